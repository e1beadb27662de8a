"""The counter app's words in French, Dutch, German and English.

One ``loyalty.i18n.Catalog``; ``t(key, lang, **params)`` fills a template. Templates are
trusted text; values that come from outside go in already cleaned (``terminal.safe``), and the
result is shown as ``Content`` or with ``markup=False``, never as markup.
"""

from __future__ import annotations

from typing import Any, Final

from loyalty.i18n import LANGUAGES, Catalog

LANGUAGE_NAMES: Final = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}

# Words that are really the same in that language (the test allows exactly these).
SAME_AS_ENGLISH: Final = frozenset(
    {
        ("status.online", "nl"),
        ("status.online", "de"),
        ("status.offline", "nl"),
        ("status.offline", "de"),
        ("status.demo", "nl"),
        ("status.demo", "de"),
        ("report.hour", "fr"),
        ("status.camera", "nl"),
        ("settings.camera", "nl"),
        ("settings.printer", "nl"),
        ("work.camera", "nl"),
        ("work.printer", "nl"),
    }
)

M: dict[str, dict[str, str]] = {
    # Status line
    "status.online": {"fr": "en ligne", "nl": "online", "de": "online", "en": "online"},
    "status.offline": {"fr": "hors ligne", "nl": "offline", "de": "offline", "en": "offline"},
    "status.not_paired": {
        "fr": "sans plateforme",
        "nl": "geen platform",
        "de": "keine Plattform",
        "en": "no platform",
    },
    "status.syncing": {
        "fr": "synchronisation…",
        "nl": "synchroniseren…",
        "de": "Abgleich…",
        "en": "syncing…",
    },
    "status.pending": {
        "fr": "{count} à envoyer",
        "nl": "{count} te versturen",
        "de": "{count} zu senden",
        "en": "{count} to send",
    },
    "status.last_sync": {
        "fr": "synchro {when}",
        "nl": "sync {when}",
        "de": "Abgleich {when}",
        "en": "synced {when}",
    },
    "status.never_synced": {
        "fr": "jamais synchronisé",
        "nl": "nooit gesynchroniseerd",
        "de": "nie abgeglichen",
        "en": "never synced",
    },
    "status.camera": {
        "fr": "caméra : {state}",
        "nl": "camera: {state}",
        "de": "Kamera: {state}",
        "en": "camera: {state}",
    },
    "status.clock": {
        "fr": "horloge décalée de {minutes} min",
        "nl": "klok {minutes} min verschoven",
        "de": "Uhr um {minutes} Min. verstellt",
        "en": "clock off by {minutes} min",
    },
    "status.demo": {"fr": "DÉMO", "nl": "DEMO", "de": "DEMO", "en": "DEMO"},
    "camera.running": {"fr": "active", "nl": "actief", "de": "aktiv", "en": "running"},
    "camera.starting": {
        "fr": "démarrage",
        "nl": "start op",
        "de": "startet",
        "en": "starting",
    },
    "camera.off": {"fr": "éteinte", "nl": "uit", "de": "aus", "en": "off"},
    "camera.missing": {
        "fr": "absente (lecteur et saisie)",
        "nl": "ontbreekt (scanner en typen)",
        "de": "fehlt (Scanner und Eingabe)",
        "en": "missing (scanner and typing)",
    },
    "camera.crashed": {
        "fr": "redémarrage",
        "nl": "herstart",
        "de": "Neustart",
        "en": "restarting",
    },
    # Keys (footer and help)
    "key.help": {"fr": "Aide", "nl": "Hulp", "de": "Hilfe", "en": "Help"},
    "key.stamp": {"fr": "Tampon", "nl": "Stempel", "de": "Stempeln", "en": "Stamp"},
    "key.purchase": {"fr": "Achat", "nl": "Aankoop", "de": "Einkauf", "en": "Purchase"},
    "key.redeem": {"fr": "Cadeau", "nl": "Beloning", "de": "Prämie", "en": "Redeem"},
    "key.history": {"fr": "Historique", "nl": "Historiek", "de": "Verlauf", "en": "History"},
    "key.report": {"fr": "Clôture", "nl": "Dagrapport", "de": "Tagesbericht", "en": "Day report"},
    "key.sync": {"fr": "Synchro", "nl": "Synchronisatie", "de": "Abgleich", "en": "Sync"},
    "key.settings": {
        "fr": "Réglages",
        "nl": "Instellingen",
        "de": "Einstellungen",
        "en": "Settings",
    },
    "key.language": {"fr": "Langue", "nl": "Taal", "de": "Sprache", "en": "Language"},
    "key.preview": {"fr": "Aperçu", "nl": "Voorbeeld", "de": "Vorschau", "en": "Preview"},
    "key.demo": {"fr": "Carte démo", "nl": "Demokaart", "de": "Demokarte", "en": "Demo card"},
    "key.clear": {"fr": "Effacer", "nl": "Wissen", "de": "Leeren", "en": "Clear"},
    "key.quit": {"fr": "Quitter", "nl": "Afsluiten", "de": "Beenden", "en": "Quit"},
    "key.back": {"fr": "Retour", "nl": "Terug", "de": "Zurück", "en": "Back"},
    "key.void": {"fr": "Annuler", "nl": "Annuleren", "de": "Stornieren", "en": "Void"},
    "key.run_sync": {
        "fr": "Synchroniser",
        "nl": "Nu synchroniseren",
        "de": "Jetzt abgleichen",
        "en": "Sync now",
    },
    "key.printer_test": {
        "fr": "Test imprimante",
        "nl": "Printertest",
        "de": "Druckertest",
        "en": "Printer test",
    },
    "key.camera": {"fr": "Caméra", "nl": "Camera aan/uit", "de": "Kamera", "en": "Camera on/off"},
    "key.confirm": {"fr": "Confirmer", "nl": "Bevestigen", "de": "Bestätigen", "en": "Confirm"},
    "key.cancel": {"fr": "Abandonner", "nl": "Stoppen", "de": "Abbrechen", "en": "Cancel"},
    "key.receipt": {"fr": "Ticket", "nl": "Bonnetje", "de": "Beleg", "en": "Receipt"},
    "key.code": {
        "fr": "Saisir un code",
        "nl": "Code typen",
        "de": "Code eingeben",
        "en": "Type a code",
    },
    "key.refresh": {"fr": "Actualiser", "nl": "Vernieuwen", "de": "Aktualisieren", "en": "Refresh"},
    # Counter screen
    "counter.scan_title": {
        "fr": "Scanner une carte",
        "nl": "Scan een kaart",
        "de": "Karte scannen",
        "en": "Scan a card",
    },
    "counter.scan_hint": {
        "fr": "Présentez le code à la caméra, utilisez le lecteur, ou tapez-le puis Entrée.",
        "nl": "Hou de code voor de camera, gebruik de scanner, of typ hem en druk Enter.",
        "de": "Code vor die Kamera halten, den Scanner benutzen oder eintippen und Enter drücken.",
        "en": "Hold the code up to the camera, use the scanner, or type it and press Enter.",
    },
    "counter.code_placeholder": {
        "fr": "Code de la carte",
        "nl": "Kaartcode",
        "de": "Kartencode",
        "en": "Card code",
    },
    "counter.no_card": {
        "fr": "Pas encore de carte.",
        "nl": "Nog geen kaart.",
        "de": "Noch keine Karte.",
        "en": "No card yet.",
    },
    "counter.card": {
        "fr": "Carte {card_id}",
        "nl": "Kaart {card_id}",
        "de": "Karte {card_id}",
        "en": "Card {card_id}",
    },
    "counter.stamps": {
        "fr": "{count} tampons sur {threshold}",
        "nl": "{count} van {threshold} stempels",
        "de": "{count} von {threshold} Stempeln",
        "en": "{count} of {threshold} stamps",
    },
    "counter.rewards": {
        "fr": "Cadeaux disponibles : {count} ({reward})",
        "nl": "Beloningen beschikbaar: {count} ({reward})",
        "de": "Verfügbare Prämien: {count} ({reward})",
        "en": "Rewards available: {count} ({reward})",
    },
    "counter.no_reward": {
        "fr": "Encore {count} pour {reward}",
        "nl": "Nog {count} voor {reward}",
        "de": "Noch {count} für {reward}",
        "en": "{count} more for {reward}",
    },
    "counter.pending_note": {
        "fr": "dont {count} pas encore confirmés par la plateforme",
        "nl": "waarvan {count} nog niet bevestigd door het platform",
        "de": "davon {count} noch nicht von der Plattform bestätigt",
        "en": "of which {count} not yet confirmed by the platform",
    },
    "counter.recent": {
        "fr": "Derniers passages",
        "nl": "Recente bezoeken",
        "de": "Letzte Buchungen",
        "en": "Recent events",
    },
    "counter.no_recent": {
        "fr": "Rien encore pour cette carte.",
        "nl": "Nog niets voor deze kaart.",
        "de": "Noch nichts für diese Karte.",
        "en": "Nothing yet for this card.",
    },
    "counter.recorded": {
        "fr": "ENREGISTRÉ : {what}",
        "nl": "GEREGISTREERD: {what}",
        "de": "GEBUCHT: {what}",
        "en": "RECORDED: {what}",
    },
    "counter.refused": {
        "fr": "REFUSÉ : {why}",
        "nl": "GEWEIGERD: {why}",
        "de": "ABGELEHNT: {why}",
        "en": "REFUSED: {why}",
    },
    "counter.need_card": {
        "fr": "Scannez d'abord une carte.",
        "nl": "Scan eerst een kaart.",
        "de": "Bitte zuerst eine Karte scannen.",
        "en": "Scan a card first.",
    },
    "counter.checking": {
        "fr": "Vérification du code…",
        "nl": "Code wordt gecontroleerd…",
        "de": "Code wird geprüft…",
        "en": "Checking the code…",
    },
    "counter.preview_none": {
        "fr": "Pas encore d'image.",
        "nl": "Nog geen beeld.",
        "de": "Noch kein Bild.",
        "en": "No picture yet.",
    },
    "counter.what_stamp": {
        "fr": "{count} tampon(s), solde {balance}",
        "nl": "{count} stempel(s), saldo {balance}",
        "de": "{count} Stempel, Stand {balance}",
        "en": "{count} stamp(s), balance {balance}",
    },
    "counter.what_purchase": {
        "fr": "achat {amount}, {count} tampon(s)",
        "nl": "aankoop {amount}, {count} stempel(s)",
        "de": "Einkauf {amount}, {count} Stempel",
        "en": "purchase {amount}, {count} stamp(s)",
    },
    "counter.what_redeem": {
        "fr": "cadeau remis : {reward}",
        "nl": "beloning gegeven: {reward}",
        "de": "Prämie ausgegeben: {reward}",
        "en": "reward given: {reward}",
    },
    "counter.what_void": {
        "fr": "annulation de {receipt}",
        "nl": "annulering van {receipt}",
        "de": "Storno von {receipt}",
        "en": "void of {receipt}",
    },
    "counter.receipt_title": {
        "fr": "Ticket (à l'écran)",
        "nl": "Bonnetje (op het scherm)",
        "de": "Beleg (am Bildschirm)",
        "en": "Receipt (on screen)",
    },
    # Event kinds and columns
    "event.stamp": {"fr": "tampon", "nl": "stempel", "de": "Stempel", "en": "stamp"},
    "event.purchase": {"fr": "achat", "nl": "aankoop", "de": "Einkauf", "en": "purchase"},
    "event.redeem": {"fr": "cadeau", "nl": "beloning", "de": "Prämie", "en": "reward"},
    "event.void": {"fr": "annulation", "nl": "annulering", "de": "Storno", "en": "void"},
    "event.enroll": {
        "fr": "inscription",
        "nl": "inschrijving",
        "de": "Anmeldung",
        "en": "enrolment",
    },
    "event.voided": {"fr": "annulé", "nl": "geannuleerd", "de": "storniert", "en": "voided"},
    "event.anonymous": {"fr": "anonyme", "nl": "anoniem", "de": "anonym", "en": "anonymous"},
    "col.time": {"fr": "Heure", "nl": "Tijd", "de": "Zeit", "en": "Time"},
    "col.kind": {"fr": "Type", "nl": "Soort", "de": "Art", "en": "Kind"},
    "col.card": {"fr": "Carte", "nl": "Kaart", "de": "Karte", "en": "Card"},
    "col.stamps": {"fr": "Tampons", "nl": "Stempels", "de": "Stempel", "en": "Stamps"},
    "col.amount": {"fr": "Montant", "nl": "Bedrag", "de": "Betrag", "en": "Amount"},
    "col.receipt": {"fr": "N° ticket", "nl": "Bonnr.", "de": "Beleg-Nr.", "en": "Receipt no."},
    "col.state": {"fr": "État", "nl": "Status", "de": "Zustand", "en": "State"},
    "col.reason": {"fr": "Raison", "nl": "Reden", "de": "Grund", "en": "Reason"},
    # Purchase dialog
    "purchase.title": {
        "fr": "Montant de l'achat",
        "nl": "Bedrag van de aankoop",
        "de": "Betrag des Einkaufs",
        "en": "Purchase amount",
    },
    "purchase.for_card": {
        "fr": "Pour la carte {card_id}",
        "nl": "Voor kaart {card_id}",
        "de": "Für Karte {card_id}",
        "en": "For card {card_id}",
    },
    "purchase.anonymous": {
        "fr": "Achat anonyme (sans carte)",
        "nl": "Anonieme aankoop (zonder kaart)",
        "de": "Anonymer Einkauf (ohne Karte)",
        "en": "Anonymous purchase (no card)",
    },
    "purchase.placeholder": {
        "fr": "ex. 12,50",
        "nl": "bv. 12,50",
        "de": "z. B. 12,50",
        "en": "e.g. 12.50",
    },
    "purchase.gives": {
        "fr": "Donne {stamps} tampon(s)",
        "nl": "Geeft {stamps} stempel(s)",
        "de": "Ergibt {stamps} Stempel",
        "en": "Gives {stamps} stamp(s)",
    },
    "purchase.hint": {
        "fr": "Tapez le montant (12,50 ou 12.50), puis Entrée.",
        "nl": "Typ het bedrag (12,50 of 12.50) en druk Enter.",
        "de": "Betrag eingeben (12,50 oder 12.50), dann Enter.",
        "en": "Type the amount (12,50 or 12.50), then Enter.",
    },
    "amount.empty": {
        "fr": "Tapez un montant.",
        "nl": "Typ een bedrag.",
        "de": "Bitte einen Betrag eingeben.",
        "en": "Type an amount.",
    },
    "amount.not_a_number": {
        "fr": "Ce n'est pas un montant : tapez par exemple 12,50.",
        "nl": "Dat is geen bedrag: typ bijvoorbeeld 12,50.",
        "de": "Das ist kein Betrag: zum Beispiel 12,50 eingeben.",
        "en": "That is not an amount: type for example 12.50.",
    },
    "amount.negative": {
        "fr": "Le montant ne peut pas être négatif.",
        "nl": "Het bedrag kan niet negatief zijn.",
        "de": "Der Betrag darf nicht negativ sein.",
        "en": "The amount cannot be negative.",
    },
    "amount.zero": {
        "fr": "Le montant doit être plus grand que zéro.",
        "nl": "Het bedrag moet groter zijn dan nul.",
        "de": "Der Betrag muss größer als null sein.",
        "en": "The amount must be more than zero.",
    },
    "amount.too_many_decimals": {
        "fr": "Deux décimales au plus (12,50).",
        "nl": "Hoogstens twee cijfers na de komma (12,50).",
        "de": "Höchstens zwei Nachkommastellen (12,50).",
        "en": "At most two decimals (12.50).",
    },
    "amount.too_large": {
        "fr": "Montant trop élevé : {limit} au plus.",
        "nl": "Bedrag te hoog: hoogstens {limit}.",
        "de": "Betrag zu hoch: höchstens {limit}.",
        "en": "Amount too large: at most {limit}.",
    },
    # Redeem dialog
    "redeem.title": {
        "fr": "Remettre un cadeau",
        "nl": "Beloning geven",
        "de": "Prämie einlösen",
        "en": "Redeem a reward",
    },
    "redeem.question": {
        "fr": "Remettre « {reward} » à la carte {card_id} ?",
        "nl": "„{reward}” geven aan kaart {card_id}?",
        "de": "„{reward}“ an Karte {card_id} ausgeben?",
        "en": "Give “{reward}” to card {card_id}?",
    },
    "redeem.costs": {
        "fr": "Cela utilise {threshold} tampons (solde : {balance}).",
        "nl": "Dit gebruikt {threshold} stempels (saldo: {balance}).",
        "de": "Das verbraucht {threshold} Stempel (Stand: {balance}).",
        "en": "This uses {threshold} stamps (balance: {balance}).",
    },
    "redeem.offline": {
        "fr": "Hors ligne : limité par les règles tant que la plateforme n'a pas confirmé.",
        "nl": "Offline: beperkt door de regels tot het platform bevestigt.",
        "de": "Offline: durch die Regeln begrenzt, bis die Plattform bestätigt.",
        "en": "Offline: limited by the rules until the platform confirms.",
    },
    # History
    "history.title": {
        "fr": "Historique du terminal",
        "nl": "Historiek van de terminal",
        "de": "Verlauf des Terminals",
        "en": "Terminal history",
    },
    "history.empty": {
        "fr": "Rien d'enregistré pour l'instant.",
        "nl": "Nog niets geregistreerd.",
        "de": "Noch nichts gebucht.",
        "en": "Nothing recorded yet.",
    },
    "history.void_question": {
        "fr": "Annuler {receipt} ({kind}) ? Une annulation reste visible.",
        "nl": "{receipt} ({kind}) annuleren? Een annulering blijft zichtbaar.",
        "de": "{receipt} ({kind}) stornieren? Ein Storno bleibt sichtbar.",
        "en": "Void {receipt} ({kind})? A void stays visible.",
    },
    "history.hint": {
        "fr": "Choisissez une ligne avec les flèches, puis Suppr pour l'annuler.",
        "nl": "Kies een regel met de pijltjes en druk Delete om te annuleren.",
        "de": "Zeile mit den Pfeiltasten wählen, dann Entf zum Stornieren.",
        "en": "Pick a line with the arrows, then Delete to void it.",
    },
    # Report
    "report.title": {
        "fr": "Clôture du {day}",
        "nl": "Dagrapport van {day}",
        "de": "Tagesbericht vom {day}",
        "en": "Day report for {day}",
    },
    "report.stamps": {
        "fr": "Tampons donnés",
        "nl": "Stempels gegeven",
        "de": "Stempel vergeben",
        "en": "Stamps given",
    },
    "report.purchases": {"fr": "Achats", "nl": "Aankopen", "de": "Einkäufe", "en": "Purchases"},
    "report.turnover": {
        "fr": "Chiffre d'affaires",
        "nl": "Omzet",
        "de": "Umsatz",
        "en": "Turnover",
    },
    "report.rewards": {
        "fr": "Cadeaux remis",
        "nl": "Beloningen gegeven",
        "de": "Prämien eingelöst",
        "en": "Rewards redeemed",
    },
    "report.voids": {"fr": "Annulations", "nl": "Annuleringen", "de": "Stornos", "en": "Voids"},
    "report.cards": {
        "fr": "Cartes vues",
        "nl": "Kaarten gezien",
        "de": "Karten gesehen",
        "en": "Cards seen",
    },
    "report.days30": {
        "fr": "Tampons sur 30 jours (max {peak})",
        "nl": "Stempels over 30 dagen (max {peak})",
        "de": "Stempel über 30 Tage (max. {peak})",
        "en": "Stamps over 30 days (peak {peak})",
    },
    "report.hours": {
        "fr": "Passages par heure",
        "nl": "Bezoeken per uur",
        "de": "Buchungen pro Stunde",
        "en": "Events by hour",
    },
    "report.hour": {"fr": "{hour} h", "nl": "{hour} u", "de": "{hour} Uhr", "en": "{hour} h"},
    "report.not_synced": {
        "fr": "Pas encore envoyés : {count}",
        "nl": "Nog niet verstuurd: {count}",
        "de": "Noch nicht gesendet: {count}",
        "en": "Not yet sent: {count}",
    },
    # Sync screen
    "sync.title": {
        "fr": "Synchronisation avec la plateforme",
        "nl": "Synchronisatie met het platform",
        "de": "Abgleich mit der Plattform",
        "en": "Sync with the platform",
    },
    "sync.pending": {
        "fr": "En attente d'envoi : {count}",
        "nl": "Wachten op verzending: {count}",
        "de": "Warten auf Versand: {count}",
        "en": "Waiting to be sent: {count}",
    },
    "sync.quarantined": {
        "fr": "Refusés par la plateforme : {count}",
        "nl": "Geweigerd door het platform: {count}",
        "de": "Von der Plattform abgelehnt: {count}",
        "en": "Refused by the platform: {count}",
    },
    "sync.last_run": {
        "fr": "Dernière synchro : {when} ({outcome})",
        "nl": "Laatste sync: {when} ({outcome})",
        "de": "Letzter Abgleich: {when} ({outcome})",
        "en": "Last run: {when} ({outcome})",
    },
    "sync.last_good": {
        "fr": "Dernière synchro réussie : {when}",
        "nl": "Laatste geslaagde sync: {when}",
        "de": "Letzter erfolgreicher Abgleich: {when}",
        "en": "Last good sync: {when}",
    },
    "sync.never": {"fr": "jamais", "nl": "nooit", "de": "nie", "en": "never"},
    "sync.not_paired": {
        "fr": "Aucune plateforme configurée : les passages restent ici jusqu'au jumelage.",
        "nl": "Geen platform ingesteld: de gegevens blijven hier tot de terminal gekoppeld is.",
        "de": "Keine Plattform eingerichtet: die Buchungen bleiben hier bis zur Kopplung.",
        "en": "No platform configured: events stay here until the terminal is paired.",
    },
    "sync.outcome.ok": {
        "fr": "tout envoyé",
        "nl": "alles verstuurd",
        "de": "alles gesendet",
        "en": "all sent",
    },
    "sync.outcome.quarantined": {
        "fr": "certains refusés",
        "nl": "sommige geweigerd",
        "de": "einige abgelehnt",
        "en": "some refused",
    },
    "sync.outcome.unreachable": {
        "fr": "plateforme injoignable",
        "nl": "platform onbereikbaar",
        "de": "Plattform nicht erreichbar",
        "en": "platform unreachable",
    },
    "sync.outcome.auth": {
        "fr": "accès refusé : jumelez à nouveau",
        "nl": "toegang geweigerd: opnieuw koppelen",
        "de": "Zugang verweigert: neu koppeln",
        "en": "access refused: pair again",
    },
    "sync.outcome.config": {
        "fr": "configuration à corriger",
        "nl": "instellingen te corrigeren",
        "de": "Einstellungen korrigieren",
        "en": "configuration to fix",
    },
    "sync.outcome.busy": {
        "fr": "une autre synchro tourne",
        "nl": "er loopt al een sync",
        "de": "ein anderer Abgleich läuft",
        "en": "another sync is running",
    },
    "sync.outcome.error": {"fr": "erreur", "nl": "fout", "de": "Fehler", "en": "error"},
    "sync.outcome.unavailable": {
        "fr": "module de synchro absent",
        "nl": "syncmodule ontbreekt",
        "de": "Abgleichsmodul fehlt",
        "en": "sync module missing",
    },
    "sync.done": {
        "fr": "Synchro : {outcome}, {count} à envoyer.",
        "nl": "Sync: {outcome}, {count} te versturen.",
        "de": "Abgleich: {outcome}, {count} zu senden.",
        "en": "Sync: {outcome}, {count} to send.",
    },
    # Settings
    "settings.title": {
        "fr": "Réglages",
        "nl": "Instellingen",
        "de": "Einstellungen",
        "en": "Settings",
    },
    "settings.language": {
        "fr": "Langue du comptoir : {name}",
        "nl": "Taal van de toonbank: {name}",
        "de": "Sprache der Theke: {name}",
        "en": "Counter language: {name}",
    },
    "settings.camera": {
        "fr": "Caméra {device} : {state}",
        "nl": "Camera {device}: {state}",
        "de": "Kamera {device}: {state}",
        "en": "Camera {device}: {state}",
    },
    "settings.printer": {
        "fr": "Imprimante : {printer}",
        "nl": "Printer: {printer}",
        "de": "Drucker: {printer}",
        "en": "Printer: {printer}",
    },
    "settings.printer_none": {
        "fr": "aucune (tickets à l'écran)",
        "nl": "geen (bonnetjes op het scherm)",
        "de": "keiner (Belege am Bildschirm)",
        "en": "none (receipts on screen)",
    },
    "settings.shop": {
        "fr": "Commerce : {name} ({shop_id}), terminal {terminal_id}",
        "nl": "Winkel: {name} ({shop_id}), terminal {terminal_id}",
        "de": "Geschäft: {name} ({shop_id}), Terminal {terminal_id}",
        "en": "Shop: {name} ({shop_id}), terminal {terminal_id}",
    },
    "settings.program": {
        "fr": "Programme : {threshold} tampons = {reward}",
        "nl": "Programma: {threshold} stempels = {reward}",
        "de": "Programm: {threshold} Stempel = {reward}",
        "en": "Program: {threshold} stamps = {reward}",
    },
    "printer.ok": {"fr": "Imprimé.", "nl": "Afgedrukt.", "de": "Gedruckt.", "en": "Printed."},
    "printer.failed": {
        "fr": "Imprimante indisponible ({detail}) : le ticket est à l'écran.",
        "nl": "Printer niet bereikbaar ({detail}): het bonnetje staat op het scherm.",
        "de": "Drucker nicht erreichbar ({detail}): der Beleg steht am Bildschirm.",
        "en": "Printer not reachable ({detail}): the receipt is on the screen.",
    },
    # Help
    "help.title": {"fr": "Touches", "nl": "Toetsen", "de": "Tasten", "en": "Keys"},
    "help.close": {
        "fr": "Échap ou F1 pour fermer.",
        "nl": "Escape of F1 om te sluiten.",
        "de": "Esc oder F1 zum Schließen.",
        "en": "Escape or F1 to close.",
    },
    "help.wedge": {
        "fr": "Un lecteur de codes-barres fonctionne partout sur l'écran du comptoir.",
        "nl": "Een barcodescanner werkt overal op het toonbankscherm.",
        "de": "Ein Barcode-Scanner funktioniert überall auf dem Thekenbildschirm.",
        "en": "A barcode scanner works anywhere on the counter screen.",
    },
    "help.everywhere": {"fr": "Partout", "nl": "Overal", "de": "Überall", "en": "Everywhere"},
    "help.counter": {"fr": "Comptoir", "nl": "Toonbank", "de": "Theke", "en": "Counter"},
    "help.screens": {
        "fr": "Autres écrans",
        "nl": "Andere schermen",
        "de": "Andere Bildschirme",
        "en": "Other screens",
    },
    # Notices
    "notice.camera_crashed": {
        "fr": "La caméra s'est arrêtée ; redémarrage. Le lecteur et la saisie restent actifs.",
        "nl": "De camera is gestopt; hij herstart. Scanner en typen blijven werken.",
        "de": "Die Kamera ist ausgefallen; Neustart. Scanner und Eingabe funktionieren weiter.",
        "en": "The camera stopped; restarting it. Scanner and typed codes keep working.",
    },
    "refused.unreadable_image": {
        "fr": "Aucun code lisible sur cette image : présentez la carte à nouveau "
        "ou tapez son numéro.",
        "nl": "Geen leesbare code op dit beeld: toon de kaart opnieuw of typ het kaartnummer.",
        "de": "Kein lesbarer Code auf diesem Bild: Karte erneut zeigen oder Kartennummer eingeben.",
        "en": "No readable code in this picture: show the card again or type its number.",
    },
    "notice.camera_missing": {
        "fr": "Pas de caméra : utilisez le lecteur ou tapez le code.",
        "nl": "Geen camera: gebruik de scanner of typ de code.",
        "de": "Keine Kamera: Scanner benutzen oder Code eingeben.",
        "en": "No camera: use the barcode scanner or type the code.",
    },
    "notice.camera_back": {
        "fr": "La caméra fonctionne à nouveau.",
        "nl": "De camera werkt weer.",
        "de": "Die Kamera läuft wieder.",
        "en": "The camera is running again.",
    },
    "notice.failed": {
        "fr": "Échec ({what}) : {detail}. Le comptoir continue.",
        "nl": "Mislukt ({what}): {detail}. De toonbank werkt verder.",
        "de": "Fehlgeschlagen ({what}): {detail}. Die Theke arbeitet weiter.",
        "en": "Failed ({what}): {detail}. The counter keeps working.",
    },
    "notice.offline": {
        "fr": "Plateforme injoignable : travail hors ligne, {count} en attente.",
        "nl": "Platform onbereikbaar: offline verder, {count} wachtend.",
        "de": "Plattform nicht erreichbar: offline weiter, {count} wartend.",
        "en": "Platform unreachable: working offline, {count} waiting.",
    },
    "notice.language": {
        "fr": "Langue : français",
        "nl": "Taal: Nederlands",
        "de": "Sprache: Deutsch",
        "en": "Language: English",
    },
    "notice.demo_none": {
        "fr": "Pas de cartes démo ici.",
        "nl": "Geen demokaarten hier.",
        "de": "Keine Demokarten hier.",
        "en": "No demo cards here.",
    },
    "notice.demo_card": {
        "fr": "Carte démo présentée : {name}",
        "nl": "Demokaart getoond: {name}",
        "de": "Demokarte vorgezeigt: {name}",
        "en": "Demo card presented: {name}",
    },
    "notice.no_scanner": {
        "fr": "Le lecteur d'images n'est pas disponible.",
        "nl": "De beeldlezer is niet beschikbaar.",
        "de": "Der Bildleser ist nicht verfügbar.",
        "en": "The image reader is not available.",
    },
    "notice.demo_mode": {
        "fr": "Mode démo : F12 présente une carte démo.",
        "nl": "Demomodus: F12 toont een demokaart.",
        "de": "Demomodus: F12 zeigt eine Demokarte.",
        "en": "Demo mode: F12 presents a demo card.",
    },
    "notice.not_a_card": {
        "fr": "Ce code n'est pas une carte de fidélité.",
        "nl": "Deze code is geen klantenkaart.",
        "de": "Dieser Code ist keine Kundenkarte.",
        "en": "This code is not a loyalty card.",
    },
    # Sync outcomes added with the sync hardening (sync.job.SyncReport.outcome)
    "sync.outcome.protocol_error": {
        "fr": "réponse illisible de la plateforme",
        "nl": "onleesbaar antwoord van het platform",
        "de": "unlesbare Antwort der Plattform",
        "en": "platform answered nonsense",
    },
    "sync.outcome.pending": {
        "fr": "la plateforme redemande des passages",
        "nl": "het platform vraagt gegevens opnieuw",
        "de": "die Plattform fordert Buchungen erneut an",
        "en": "platform asked for events again",
    },
    "sync.outcome.rejected": {
        "fr": "requête refusée par la plateforme",
        "nl": "verzoek geweigerd door het platform",
        "de": "Anfrage von der Plattform abgelehnt",
        "en": "request refused by the platform",
    },
    "sync.outcome.cancelled": {
        "fr": "synchro interrompue",
        "nl": "sync onderbroken",
        "de": "Abgleich abgebrochen",
        "en": "sync cancelled",
    },
    # Worker groups, named in failure notices
    "work.camera": {"fr": "caméra", "nl": "camera", "de": "Kamera", "en": "camera"},
    "work.ledger": {"fr": "registre", "nl": "register", "de": "Journal", "en": "ledger"},
    "work.sync": {"fr": "synchro", "nl": "synchronisatie", "de": "Abgleich", "en": "sync"},
    "work.printer": {"fr": "imprimante", "nl": "printer", "de": "Drucker", "en": "printer"},
    "work.receipt": {"fr": "ticket", "nl": "bonnetje", "de": "Beleg", "en": "receipt"},
    "work.status": {"fr": "état", "nl": "toestand", "de": "Zustand", "en": "status"},
    "work.other": {"fr": "tâche", "nl": "taak", "de": "Aufgabe", "en": "task"},
    # The counter app: a second stamp soon after the first, the background ledger check
    "repeat.title": {
        "fr": "Encore un tampon ?",
        "nl": "Nog een stempel?",
        "de": "Noch ein Stempel?",
        "en": "Stamp again?",
    },
    "repeat.question": {
        "fr": "Cette carte a reçu un tampon il y a {seconds} s. "
        "Entrée pour tamponner encore, Échap pour annuler.",
        "nl": "Deze kaart kreeg {seconds} s geleden een stempel. "
        "Enter om nog een stempel te geven, Escape om te annuleren.",
        "de": "Diese Karte hat vor {seconds} s einen Stempel bekommen. "
        "Eingabe für noch einen Stempel, Escape zum Abbrechen.",
        "en": "This card got a stamp {seconds} s ago. Enter to stamp it again, Escape to cancel.",
    },
    "status.damaged": {
        "fr": "REGISTRE ENDOMMAGÉ : lancez « citie-terminal ledger check », puis restaurez "
        "la dernière sauvegarde",
        "nl": "REGISTER BESCHADIGD: voer 'citie-terminal ledger check' uit en zet dan de "
        "nieuwste back-up terug",
        "de": "JOURNAL BESCHÄDIGT: 'citie-terminal ledger check' ausführen, dann die neueste "
        "Sicherung zurückspielen",
        "en": "LEDGER DAMAGED: run 'citie-terminal ledger check', then restore the newest backup",
    },
    "work.check": {
        "fr": "vérification du registre",
        "nl": "registercontrole",
        "de": "Journalprüfung",
        "en": "ledger check",
    },
    # Issue 10 A6: the clock is behind the newest event in the ledger.
    "status.clock_behind_min": {
        "fr": "horloge en retard de {minutes} min sur le registre : limites comptées "
        "depuis le dernier événement",
        "nl": "klok {minutes} min achter op het register: limieten tellen vanaf de "
        "laatste gebeurtenis",
        "de": "Uhr {minutes} Min. hinter dem Journal: Limits zählen ab dem letzten Ereignis",
        "en": "clock {minutes} min behind the ledger: limits count from the newest event",
    },
    "status.clock_behind_h": {
        "fr": "horloge en retard de {hours} h sur le registre : limites comptées "
        "depuis le dernier événement",
        "nl": "klok {hours} u achter op het register: limieten tellen vanaf de laatste gebeurtenis",
        "de": "Uhr {hours} Std. hinter dem Journal: Limits zählen ab dem letzten Ereignis",
        "en": "clock {hours} h behind the ledger: limits count from the newest event",
    },
    # Issue 15: the headless command line speaks one language per run (the shop's or --lang).
    "cli.created": {
        "fr": "créé : {what}",
        "nl": "aangemaakt: {what}",
        "de": "angelegt: {what}",
        "en": "created: {what}",
    },
    "cli.unchanged": {
        "fr": "inchangé : {what}",
        "nl": "ongewijzigd: {what}",
        "de": "unverändert: {what}",
        "en": "unchanged: {what}",
    },
    "cli.what.config": {
        "fr": "configuration {path}",
        "nl": "configuratie {path}",
        "de": "Konfiguration {path}",
        "en": "config {path}",
    },
    "cli.what.config_kept": {
        "fr": "configuration {path} (--force pour la réécrire)",
        "nl": "configuratie {path} (--force om ze te herschrijven)",
        "de": "Konfiguration {path} (--force schreibt sie neu)",
        "en": "config {path} (use --force to rewrite it)",
    },
    "cli.what.key_pair": {
        "fr": "paire de clés {path}",
        "nl": "sleutelpaar {path}",
        "de": "Schlüsselpaar {path}",
        "en": "key pair {path}",
    },
    "cli.what.key_pair_new": {
        "fr": "paire de clés {path} (clé privée en mode 0600)",
        "nl": "sleutelpaar {path} (privésleutel met modus 0600)",
        "de": "Schlüsselpaar {path} (privater Schlüssel mit Modus 0600)",
        "en": "key pair {path} (private key mode 0600)",
    },
    "cli.what.ledger": {
        "fr": "registre {path}",
        "nl": "register {path}",
        "de": "Journal {path}",
        "en": "ledger {path}",
    },
    "cli.nothing_to_do": {
        "fr": "Rien à faire : ce terminal est déjà initialisé.",
        "nl": "Niets te doen: deze terminal is al ingesteld.",
        "de": "Nichts zu tun: dieses Terminal ist schon eingerichtet.",
        "en": "Nothing to do: this terminal is already initialised.",
    },
    "cli.ask.shop_name": {
        "fr": "Nom du commerce",
        "nl": "Naam van de zaak",
        "de": "Name des Geschäfts",
        "en": "Shop name",
    },
    "cli.ask.shop_address": {
        "fr": "Adresse du commerce (imprimée sur les tickets)",
        "nl": "Adres van de zaak (komt op de bonnetjes)",
        "de": "Adresse des Geschäfts (steht auf den Belegen)",
        "en": "Shop address (printed on the slips)",
    },
    "cli.ask.reward_name": {
        "fr": "La récompense (par ex. « un pain offert »)",
        "nl": "De beloning (bv. 'een gratis brood')",
        "de": "Die Prämie (z. B. 'ein Gratisbrot')",
        "en": "The reward (e.g. 'a free loaf')",
    },
    "cli.ask.stamps_for_reward": {
        "fr": "Tampons pour une récompense",
        "nl": "Stempels voor een beloning",
        "de": "Stempel für eine Prämie",
        "en": "Stamps for one reward",
    },
    "cli.config_ok": {
        "fr": "ok : {path}",
        "nl": "in orde: {path}",
        "de": "in Ordnung: {path}",
        "en": "ok: {path}",
    },
    "cli.config_missing": {
        "fr": "{path} (absent : valeurs par défaut)",
        "nl": "{path} (niet aanwezig: standaardwaarden)",
        "de": "{path} (nicht vorhanden: Standardwerte)",
        "en": "{path} (not there: defaults)",
    },
    "cli.not_initialised": {
        "fr": "aucun registre à {path}. Lancez d'abord `citie-terminal init` "
        "(avec le même --data-dir ou --config).",
        "nl": "geen register op {path}. Voer eerst `citie-terminal init` uit "
        "(met dezelfde --data-dir of --config).",
        "de": "kein Journal unter {path}. Zuerst `citie-terminal init` ausführen "
        "(mit demselben --data-dir oder --config).",
        "en": "no ledger at {path}. Run `citie-terminal init` first "
        "(with the same --data-dir or --config).",
    },
    "cli.kind.stamp": {"fr": "tampon", "nl": "stempel", "de": "Stempel", "en": "stamp"},
    "cli.kind.purchase": {"fr": "achat", "nl": "aankoop", "de": "Einkauf", "en": "purchase"},
    "cli.kind.redeem": {
        "fr": "récompense",
        "nl": "beloning",
        "de": "Prämie",
        "en": "redeem",
    },
    "cli.kind.void": {"fr": "annulation", "nl": "annulering", "de": "Storno", "en": "void"},
    "cli.kind.enroll": {
        "fr": "inscription",
        "nl": "inschrijving",
        "de": "Anmeldung",
        "en": "enroll",
    },
    "cli.card": {
        "fr": "carte {card_id}",
        "nl": "kaart {card_id}",
        "de": "Karte {card_id}",
        "en": "card {card_id}",
    },
    "cli.recorded": {
        "fr": "enregistré : {kind} {receipt_no}{card} ({stamps} tampons)",
        "nl": "geregistreerd: {kind} {receipt_no}{card} ({stamps} stempels)",
        "de": "erfasst: {kind} {receipt_no}{card} ({stamps} Stempel)",
        "en": "recorded: {kind} {receipt_no}{card} ({stamps} stamps)",
    },
    "cli.event_id": {
        "fr": "identifiant : {id}",
        "nl": "gebeurtenis-id: {id}",
        "de": "Ereignis-ID: {id}",
        "en": "id: {id}",
    },
    "cli.balance_line": {
        "fr": "solde : {balance}",
        "nl": "saldo: {balance}",
        "de": "Stand: {balance}",
        "en": "balance: {balance}",
    },
    "cli.balance.unconfirmed.one": {
        "fr": "{total} tampon (pas encore confirmé par la plateforme)",
        "nl": "{total} stempel (nog niet bevestigd door het platform)",
        "de": "{total} Stempel (noch nicht von der Plattform bestätigt)",
        "en": "{total} stamp (not confirmed by the platform yet)",
    },
    "cli.balance.unconfirmed.other": {
        "fr": "{total} tampons (pas encore confirmés par la plateforme)",
        "nl": "{total} stempels (nog niet bevestigd door het platform)",
        "de": "{total} Stempel (noch nicht von der Plattform bestätigt)",
        "en": "{total} stamps (not confirmed by the platform yet)",
    },
    "cli.balance.confirmed.one": {
        "fr": "{total} tampon ({confirmed} confirmés + {pending} en attente)",
        "nl": "{total} stempel ({confirmed} bevestigd + {pending} in afwachting)",
        "de": "{total} Stempel ({confirmed} bestätigt + {pending} ausstehend)",
        "en": "{total} stamp ({confirmed} confirmed + {pending} pending)",
    },
    "cli.balance.confirmed.other": {
        "fr": "{total} tampons ({confirmed} confirmés + {pending} en attente)",
        "nl": "{total} stempels ({confirmed} bevestigd + {pending} in afwachting)",
        "de": "{total} Stempel ({confirmed} bestätigt + {pending} ausstehend)",
        "en": "{total} stamps ({confirmed} confirmed + {pending} pending)",
    },
    "cli.card_balance": {
        "fr": "carte {card_id} : {balance}",
        "nl": "kaart {card_id}: {balance}",
        "de": "Karte {card_id}: {balance}",
        "en": "card {card_id}: {balance}",
    },
    "cli.rewards_available": {
        "fr": "récompenses disponibles : {count} ({reward}, {threshold} tampons chacune)",
        "nl": "beschikbare beloningen: {count} ({reward}, {threshold} stempels per stuk)",
        "de": "verfügbare Prämien: {count} ({reward}, je {threshold} Stempel)",
        "en": "rewards available: {count} ({reward}, {threshold} stamps each)",
    },
    "cli.program_invalid": {
        "fr": "avertissement : le programme de la plateforme n'est pas valable "
        "({problem}) ; le programme du fichier de configuration est utilisé",
        "nl": "waarschuwing: het programma van het platform is niet geldig "
        "({problem}); het programma uit het configuratiebestand wordt gebruikt",
        "de": "Warnung: das Programm der Plattform ist ungültig ({problem}); "
        "das Programm aus der Konfigurationsdatei gilt",
        "en": "warning: the platform's program is not valid ({problem}); "
        "using the program from the config file",
    },
    "cli.report.title": {
        "fr": "rapport du {day} ({tz})",
        "nl": "rapport van {day} ({tz})",
        "de": "Bericht vom {day} ({tz})",
        "en": "report {day} ({tz})",
    },
    "cli.report.month_title": {
        "fr": "rapport du mois {month} ({tz})",
        "nl": "maandrapport {month} ({tz})",
        "de": "Monatsbericht {month} ({tz})",
        "en": "month report {month} ({tz})",
    },
    "cli.report.stamps": {
        "fr": "tampons donnés :",
        "nl": "stempels gegeven:",
        "de": "Stempel vergeben:",
        "en": "stamps issued:",
    },
    "cli.report.rewards": {
        "fr": "récompenses :",
        "nl": "beloningen:",
        "de": "Prämien:",
        "en": "rewards redeemed:",
    },
    "cli.report.purchases": {
        "fr": "achats :",
        "nl": "aankopen:",
        "de": "Einkäufe:",
        "en": "purchases:",
    },
    "cli.report.cards": {
        "fr": "cartes différentes :",
        "nl": "verschillende kaarten:",
        "de": "verschiedene Karten:",
        "en": "distinct cards:",
    },
    "cli.report.voids": {
        "fr": "annulations :",
        "nl": "annuleringen:",
        "de": "Stornos:",
        "en": "voids:",
    },
    "cli.report.pending": {
        "fr": "à synchroniser :",
        "nl": "te synchroniseren:",
        "de": "abzugleichen:",
        "en": "pending sync:",
    },
    "cli.report.quarantined": {
        "fr": "{pending} (en quarantaine {quarantined})",
        "nl": "{pending} (in quarantaine {quarantined})",
        "de": "{pending} (in Quarantäne {quarantined})",
        "en": "{pending} (quarantined {quarantined})",
    },
    "cli.report.hours": {
        "fr": "heures : {hours}",
        "nl": "uren: {hours}",
        "de": "Stunden: {hours}",
        "en": "hours: {hours}",
    },
    "cli.report.total": {"fr": "au total", "nl": "totaal", "de": "Summe", "en": "total"},
    "cli.bad_date": {
        "fr": "{value!r} n'est pas une date : écrivez 25/11/2026, 25.11.2026 ou 2026-11-25.",
        "nl": "{value!r} is geen datum: schrijf 25/11/2026, 25.11.2026 of 2026-11-25.",
        "de": "{value!r} ist kein Datum: 25.11.2026, 25/11/2026 oder 2026-11-25 schreiben.",
        "en": "{value!r} is not a date: write 25/11/2026, 25.11.2026 or 2026-11-25.",
    },
    "cli.bad_month": {
        "fr": "{value!r} n'est pas un mois : écrivez 2026-11 (ou 11/2026).",
        "nl": "{value!r} is geen maand: schrijf 2026-11 (of 11/2026).",
        "de": "{value!r} ist kein Monat: 2026-11 (oder 11/2026) schreiben.",
        "en": "{value!r} is not a month: write 2026-11 (or 11/2026).",
    },
    "cli.bad_range": {
        "fr": "--from {start} vient après --to {end} : échangez les deux dates.",
        "nl": "--from {start} ligt na --to {end}: wissel de twee datums om.",
        "de": "--from {start} liegt nach --to {end}: die beiden Daten tauschen.",
        "en": "--from {start} is after --to {end}: swap the two dates.",
    },
    "cli.one_format": {
        "fr": "choisissez --csv ou --json, pas les deux.",
        "nl": "kies --csv of --json, niet allebei.",
        "de": "--csv oder --json wählen, nicht beides.",
        "en": "choose --csv or --json, not both.",
    },
    "cli.month_and_day": {
        "fr": "choisissez --day ou --month, pas les deux.",
        "nl": "kies --day of --month, niet allebei.",
        "de": "--day oder --month wählen, nicht beides.",
        "en": "choose --day or --month, not both.",
    },
    "cli.check.integrity": {
        "fr": "intégrité : {result}",
        "nl": "integriteit: {result}",
        "de": "Integrität: {result}",
        "en": "integrity: {result}",
    },
    "cli.check.counts": {
        "fr": "événements : {events}, cartes : {cards}",
        "nl": "gebeurtenissen: {events}, kaarten: {cards}",
        "de": "Ereignisse: {events}, Karten: {cards}",
        "en": "events: {events}, cards: {cards}",
    },
    "cli.check.rebuilt": {
        "fr": "reconstruit : {count} lignes de solde",
        "nl": "opnieuw opgebouwd: {count} saldoregels",
        "de": "neu aufgebaut: {count} Saldozeilen",
        "en": "rebuilt: {count} balance rows",
    },
    "cli.check.mismatch": {
        "fr": "écart {card_id} {column} : table {table}, événements {fold}",
        "nl": "verschil {card_id} {column}: tabel {table}, gebeurtenissen {fold}",
        "de": "Abweichung {card_id} {column}: Tabelle {table}, Ereignisse {fold}",
        "en": "mismatch {card_id} {column}: table {table}, events {fold}",
    },
    "cli.check.damaged": {
        "fr": "integrity_check : {first}. Arrêtez le terminal et restaurez la dernière "
        "sauvegarde du dossier des sauvegardes.",
        "nl": "integrity_check: {first}. Stop de terminal en zet de nieuwste back-up uit "
        "de back-upmap terug.",
        "de": "integrity_check: {first}. Das Terminal anhalten und die neueste Sicherung "
        "aus dem Sicherungsordner zurückspielen.",
        "en": "integrity_check: {first}. Stop the terminal and restore the latest backup "
        "from the backups folder.",
    },
    "cli.check.mismatches": {
        "fr": "{mismatches} valeur(s) de solde diffèrent des événements et {orphans} "
        "événement(s) n'ont pas de ligne d'envoi. Lancez `citie-terminal ledger check "
        "--repair` pour reconstruire les soldes.",
        "nl": "{mismatches} saldowaarde(n) wijken af van de gebeurtenissen en {orphans} "
        "gebeurtenis(sen) hebben geen verzendregel. Voer `citie-terminal ledger check "
        "--repair` uit om de saldi opnieuw op te bouwen.",
        "de": "{mismatches} Saldowert(e) weichen von den Ereignissen ab und {orphans} "
        "Ereignis(se) haben keine Sendezeile. `citie-terminal ledger check --repair` "
        "baut die Salden neu auf.",
        "en": "{mismatches} balance value(s) differ from the events and {orphans} event(s) "
        "have no outbox row. Run `citie-terminal ledger check --repair` to rebuild the "
        "balances.",
    },
    "cli.backup.exists": {
        "fr": "{path} existe déjà ; choisissez un autre nom (une sauvegarde n'écrase jamais).",
        "nl": "{path} bestaat al; kies een nieuwe naam (een back-up overschrijft nooit).",
        "de": "{path} gibt es schon; einen neuen Namen wählen (eine Sicherung überschreibt nie).",
        "en": "{path} already exists; choose a new file name (a backup never overwrites).",
    },
    "cli.backup.made": {
        "fr": "sauvegarde : {path} ({events} événements)",
        "nl": "back-up: {path} ({events} gebeurtenissen)",
        "de": "Sicherung: {path} ({events} Ereignisse)",
        "en": "backup: {path} ({events} events)",
    },
    "cli.restore.missing": {
        "fr": "aucun fichier de sauvegarde à {path}.",
        "nl": "geen back-upbestand op {path}.",
        "de": "keine Sicherungsdatei unter {path}.",
        "en": "no backup file at {path}.",
    },
    "cli.restore.busy": {
        "fr": "une synchronisation tourne sur {path} ; attendez qu'elle finisse ({detail}).",
        "nl": "er loopt een synchronisatie op {path}; wacht tot ze klaar is ({detail}).",
        "de": "auf {path} läuft ein Abgleich; warten, bis er fertig ist ({detail}).",
        "en": "a sync is running on {path}; wait for it to finish ({detail}).",
    },
    "cli.restore.done": {
        "fr": "restauré : {file} -> {target} ({events} événements)",
        "nl": "teruggezet: {file} -> {target} ({events} gebeurtenissen)",
        "de": "zurückgespielt: {file} -> {target} ({events} Ereignisse)",
        "en": "restored: {file} -> {target} ({events} events)",
    },
    "cli.restore.kept": {
        "fr": "l'ancien fichier est gardé sous {path}",
        "nl": "het vorige bestand is bewaard als {path}",
        "de": "die vorige Datei ist als {path} aufbewahrt",
        "en": "the previous file is kept as {path}",
    },
    "cli.restore.pending": {
        "fr": "{pending} événement(s) en attente : la prochaine synchronisation les envoie",
        "nl": "{pending} gebeurtenis(sen) in afwachting: de volgende synchronisatie verstuurt ze",
        "de": "{pending} Ereignis(se) ausstehend: der nächste Abgleich sendet sie",
        "en": "{pending} event(s) pending: the next sync sends them",
    },
    "cli.export.written": {
        "fr": "écrit : {path} ({rows} lignes)",
        "nl": "geschreven: {path} ({rows} regels)",
        "de": "geschrieben: {path} ({rows} Zeilen)",
        "en": "wrote {path} ({rows} rows)",
    },
    "cli.receipt.output_needed": {
        "fr": "--format {fmt} écrit des données binaires : ajoutez --output CHEMIN "
        "(par ex. --output ticket.{fmt}).",
        "nl": "--format {fmt} schrijft binaire gegevens: voeg --output PAD toe "
        "(bv. --output bon.{fmt}).",
        "de": "--format {fmt} schreibt Binärdaten: --output PFAD angeben "
        "(z. B. --output beleg.{fmt}).",
        "en": "--format {fmt} writes binary data: add --output PATH (e.g. --output slip.{fmt}).",
    },
    "cli.receipt.output_failed": {
        "fr": "impossible d'écrire {path} : {cause}.",
        "nl": "kan {path} niet schrijven: {cause}.",
        "de": "{path} kann nicht geschrieben werden: {cause}.",
        "en": "cannot write {path}: {cause}.",
    },
    "cli.receipt.wrote": {
        "fr": "écrit : {path} ({fmt}, {columns} colonnes, ticket {receipt_no})",
        "nl": "geschreven: {path} ({fmt}, {columns} kolommen, bon {receipt_no})",
        "de": "geschrieben: {path} ({fmt}, {columns} Spalten, Beleg {receipt_no})",
        "en": "wrote {path} ({fmt}, {columns} columns, slip {receipt_no})",
    },
    "cli.receipt.printed": {
        "fr": "ticket {receipt_no} imprimé sur {target}",
        "nl": "bon {receipt_no} afgedrukt op {target}",
        "de": "Beleg {receipt_no} gedruckt auf {target}",
        "en": "printed slip {receipt_no} on {target}",
    },
    "cli.receipt.print_failed": {
        "fr": "{problem} Le ticket {receipt_no} est gardé : "
        "`citie-terminal receipt print {receipt_no}` l'imprime à nouveau.",
        "nl": "{problem} Bon {receipt_no} is bewaard: "
        "`citie-terminal receipt print {receipt_no}` drukt hem opnieuw af.",
        "de": "{problem} Beleg {receipt_no} bleibt gespeichert: "
        "`citie-terminal receipt print {receipt_no}` druckt ihn erneut.",
        "en": "{problem} Slip {receipt_no} is kept: "
        "`citie-terminal receipt print {receipt_no}` prints it again.",
    },
    "cli.card.issuer": {
        "fr": "émetteur : {value}",
        "nl": "uitgever: {value}",
        "de": "Herausgeber: {value}",
        "en": "issuer: {value}",
    },
    "cli.card.kid": {
        "fr": "clé : {value}",
        "nl": "sleutel: {value}",
        "de": "Schlüssel: {value}",
        "en": "kid: {value}",
    },
    "cli.card.issued_at": {
        "fr": "émise le : {value}",
        "nl": "uitgegeven op: {value}",
        "de": "ausgestellt am: {value}",
        "en": "issued_at: {value}",
    },
    "cli.card.expires_at": {
        "fr": "expire le : {value}",
        "nl": "vervalt op: {value}",
        "de": "läuft ab am: {value}",
        "en": "expires_at: {value}",
    },
    "cli.card.no_keys": {
        "fr": "Ce terminal n'a pas encore de clés d'émetteur : lancez "
        "`citie-terminal keys import FICHIER` ou appairez-le avec la plateforme.",
        "nl": "Deze terminal heeft nog geen uitgeverssleutels: voer "
        "`citie-terminal keys import BESTAND` uit of koppel hem aan het platform.",
        "de": "Dieses Terminal hat noch keine Herausgeberschlüssel: "
        "`citie-terminal keys import DATEI` ausführen oder es mit der Plattform koppeln.",
        "en": "This terminal has no issuer keys yet: run "
        "`citie-terminal keys import FILE` or pair it with the platform.",
    },
    "cli.keys.installed": {
        "fr": "installée : liste de confiance version {version} ({kids})",
        "nl": "geïnstalleerd: vertrouwenslijst versie {version} ({kids})",
        "de": "installiert: Vertrauensliste Version {version} ({kids})",
        "en": "installed: trust list version {version} ({kids})",
    },
    "cli.keys.unchanged": {
        "fr": "inchangée : la liste de confiance version {version} est déjà installée",
        "nl": "ongewijzigd: vertrouwenslijst versie {version} is al geïnstalleerd",
        "de": "unverändert: Vertrauensliste Version {version} ist schon installiert",
        "en": "unchanged: trust list version {version} is already installed",
    },
    # Issue 15 (screens): a counter that fits, what the screen says is true, card numbers
    "camera.short.missing": {"fr": "absente", "nl": "ontbreekt", "de": "fehlt", "en": "missing"},
    "camera.short.crashed": {
        "fr": "redémarre",
        "nl": "herstart",
        "de": "Neustart",
        "en": "restarting",
    },
    "error.unexpected": {
        "fr": "erreur inattendue (détails dans le journal)",
        "nl": "onverwachte fout (details in het logboek)",
        "de": "unerwarteter Fehler (Details im Protokoll)",
        "en": "unexpected error (details in the log)",
    },
    "counter.what_purchase_anon": {
        "fr": "achat {amount} sans carte ; avec le ticket, le client réclame {count} tampon(s) "
        "dans l'application de la ville",
        "nl": "aankoop {amount} zonder kaart; met het bonnetje claimt de klant {count} "
        "stempel(s) in de app van de stad",
        "de": "Einkauf {amount} ohne Karte; mit dem Beleg holt sich der Kunde {count} Stempel "
        "in der App der Stadt",
        "en": "purchase {amount} without a card; with the slip the customer claims {count} "
        "stamp(s) in the city app",
    },
    "key.day_before": {
        "fr": "Jour précédent",
        "nl": "Vorige dag",
        "de": "Vorheriger Tag",
        "en": "Previous day",
    },
    "key.day_after": {
        "fr": "Jour suivant",
        "nl": "Volgende dag",
        "de": "Nächster Tag",
        "en": "Next day",
    },
    "report.no_future": {
        "fr": "Pas de rapport pour un jour à venir.",
        "nl": "Geen rapport voor een dag in de toekomst.",
        "de": "Kein Bericht für einen künftigen Tag.",
        "en": "No report for a day still to come.",
    },
    "sync.started": {
        "fr": "Synchronisation en cours…",
        "nl": "Synchronisatie bezig…",
        "de": "Abgleich läuft…",
        "en": "Sync running…",
    },
    "sync.finished": {
        "fr": "Synchronisation terminée : {outcome}. {sent} envoyé(s), {pending} en attente.",
        "nl": "Synchronisatie klaar: {outcome}. {sent} verstuurd, {pending} wachtend.",
        "de": "Abgleich beendet: {outcome}. {sent} gesendet, {pending} wartend.",
        "en": "Sync finished: {outcome}. {sent} sent, {pending} waiting.",
    },
    "sync.hint.unreachable": {
        "fr": "La plateforme est injoignable : vérifiez la connexion internet. Les événements "
        "restent ici et partiront plus tard.",
        "nl": "Het platform is onbereikbaar: controleer de internetverbinding. De gebeurtenissen "
        "blijven hier en worden later verstuurd.",
        "de": "Die Plattform ist nicht erreichbar: prüfen Sie die Internetverbindung. Die "
        "Ereignisse bleiben hier und werden später gesendet.",
        "en": "The platform cannot be reached: check the internet connection. The events stay "
        "here and are sent later.",
    },
    "sync.hint.auth": {
        "fr": "La plateforme refuse l'accès de ce terminal : appairez-le à nouveau "
        "(citie-terminal pair).",
        "nl": "Het platform weigert deze terminal: koppel hem opnieuw (citie-terminal pair).",
        "de": "Die Plattform weist dieses Terminal ab: koppeln Sie es erneut "
        "(citie-terminal pair).",
        "en": "The platform refuses this terminal: pair it again (citie-terminal pair).",
    },
    "sync.hint.other": {
        "fr": "La synchronisation n'a pas abouti ; les événements restent ici. Les détails sont "
        "dans le journal.",
        "nl": "De synchronisatie is niet gelukt; de gebeurtenissen blijven hier. De details "
        "staan in het logboek.",
        "de": "Der Abgleich ist nicht gelungen; die Ereignisse bleiben hier. Die Details stehen "
        "im Protokoll.",
        "en": "The sync did not succeed; the events stay here. The details are in the log.",
    },
    "sync.reason.refused": {
        "fr": "refusé par la plateforme",
        "nl": "geweigerd door het platform",
        "de": "von der Plattform abgelehnt",
        "en": "refused by the platform",
    },
    "printer.test_title": {
        "fr": "Test de l'imprimante",
        "nl": "Printertest",
        "de": "Druckertest",
        "en": "Printer test",
    },
    "printer.test_footer": {
        "fr": "Si vous lisez ceci, l'imprimante fonctionne.",
        "nl": "Kunt u dit lezen, dan werkt de printer.",
        "de": "Wenn Sie dies lesen können, funktioniert der Drucker.",
        "en": "If you can read this, the printer works.",
    },
    "printer.test_terminal": {"fr": "Appareil", "nl": "Toestel", "de": "Gerät", "en": "Terminal"},
    "printer.test_no": {"fr": "Essai", "nl": "Proef", "de": "Probe", "en": "Test"},
    "notice.no_camera": {
        "fr": "Pas de caméra, donc pas d'aperçu ; le lecteur et la saisie fonctionnent.",
        "nl": "Geen camera, dus geen voorbeeld; scanner en typen werken wel.",
        "de": "Keine Kamera, also keine Vorschau; Scanner und Eingabe funktionieren.",
        "en": "No camera, so nothing to preview; the scanner and typing still work.",
    },
    "card.number_unknown": {
        "fr": "Le numéro de carte {card_id} n'est pas encore connu de ce terminal : scannez le "
        "code QR de la carte, ou synchronisez puis retapez-le.",
        "nl": "Kaartnummer {card_id} is nog niet bekend op deze terminal: scan de QR-code van "
        "de kaart, of synchroniseer en typ het daarna opnieuw.",
        "de": "Die Kartennummer {card_id} ist diesem Terminal noch nicht bekannt: scannen Sie "
        "den QR-Code der Karte, oder gleichen Sie ab und tippen Sie sie dann erneut.",
        "en": "Card number {card_id} is not known on this terminal yet: scan the card's QR "
        "code, or sync and type it again.",
    },
    "card.number_typo": {
        "fr": "Ce numéro de carte contient une faute de frappe (le dernier caractère ne "
        "correspond pas) : vérifiez chaque caractère sur la carte et retapez-le.",
        "nl": "Dit kaartnummer bevat een tikfout (het laatste teken klopt niet): controleer "
        "elk teken op de kaart en typ het opnieuw.",
        "de": "Diese Kartennummer enthält einen Tippfehler (das letzte Zeichen passt nicht): "
        "prüfen Sie jedes Zeichen auf der Karte und tippen Sie sie erneut.",
        "en": "This card number has a typing mistake (its last character does not match): "
        "check each character on the card and type it again.",
    },
}

UI = Catalog("terminal", M)


def t(key: str, lang: str, /, **params: Any) -> str:
    """The message ``key`` in ``lang`` with its fields filled."""
    return UI.text(key, lang, **params)


def next_language(lang: str) -> str:
    """The language after ``lang`` in the cycle fr -> nl -> de -> en -> fr."""
    order = list(LANGUAGES)
    return order[(order.index(lang) + 1) % len(order)] if lang in order else order[0]
