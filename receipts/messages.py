"""What a receipt, a printed card and a printer fault say, in the counter's four languages."""

from __future__ import annotations

from loyalty.i18n import Catalog

MESSAGES = Catalog(
    "receipts",
    {
        # Titles: what the slip records.
        "title_purchase": {"fr": "Achat", "nl": "Aankoop", "de": "Einkauf", "en": "Purchase"},
        "title_stamp": {"fr": "Tampons", "nl": "Stempels", "de": "Stempel", "en": "Stamps"},
        "title_redeem": {"fr": "Récompense", "nl": "Beloning", "de": "Prämie", "en": "Reward"},
        "title_void": {
            "fr": "Annulation",
            "nl": "Annulering",
            "de": "Stornierung",
            "en": "Cancellation",
        },
        "title_enroll": {
            "fr": "Inscription",
            "nl": "Inschrijving",
            "de": "Anmeldung",
            "en": "Sign-up",
        },
        "slip_no": {"fr": "Bon", "nl": "Bon", "de": "Beleg", "en": "Slip"},
        "terminal": {"fr": "Borne", "nl": "Toestel", "de": "Gerät", "en": "Terminal"},
        "card": {"fr": "Carte", "nl": "Kaart", "de": "Karte", "en": "Card"},
        "anonymous": {
            "fr": "sans carte",
            "nl": "zonder kaart",
            "de": "ohne Karte",
            "en": "no card",
        },
        "line_purchase": {
            "fr": "Achat",
            "nl": "Aankoop",
            "de": "Einkauf",
            "en": "Purchase",
        },
        "line_purchase_cancelled": {
            "fr": "Achat annulé",
            "nl": "Geannuleerde aankoop",
            "de": "Stornierter Einkauf",
            "en": "Purchase cancelled",
        },
        "total": {"fr": "Montant total", "nl": "Totaal", "de": "Gesamt", "en": "Total"},
        "stamps_earned": {
            "fr": "Tampons gagnés",
            "nl": "Verdiende stempels",
            "de": "Neue Stempel",
            "en": "Stamps earned",
        },
        "stamps_used": {
            "fr": "Tampons utilisés",
            "nl": "Gebruikte stempels",
            "de": "Eingelöste Stempel",
            "en": "Stamps used",
        },
        "stamps_cancelled": {
            "fr": "Tampons retirés",
            "nl": "Ingetrokken stempels",
            "de": "Zurückgenommene Stempel",
            "en": "Stamps withdrawn",
        },
        "stamps_returned": {
            "fr": "Tampons rendus",
            "nl": "Teruggegeven stempels",
            "de": "Zurückgegebene Stempel",
            "en": "Stamps returned",
        },
        "unknown_receipt": {
            "fr": "Aucun bon {ref} dans ce terminal. Consultez l’historique pour le bon numéro.",
            "nl": "Geen bon {ref} op dit toestel. Zoek het juiste nummer in de geschiedenis.",
            "de": "Kein Beleg {ref} auf diesem Gerät. Suchen Sie die richtige Nummer im Verlauf.",
            "en": "No slip {ref} on this terminal. Look up the right number in the history.",
        },
        "no_receipts": {
            "fr": "Aucun bon n’a encore été enregistré sur ce terminal.",
            "nl": "Op dit toestel is nog geen bon geregistreerd.",
            "de": "Auf diesem Gerät wurde noch kein Beleg erfasst.",
            "en": "No slip has been recorded on this terminal yet.",
        },
        "stamps_to_claim": {
            "fr": "Tampons à recevoir",
            "nl": "Stempels te ontvangen",
            "de": "Stempel zum Abholen",
            "en": "Stamps to collect",
        },
        "balance": {
            "fr": "Nouveau solde",
            "nl": "Nieuw saldo",
            "de": "Neuer Stand",
            "en": "New balance",
        },
        "progress": {
            "fr": "{have}/{need}, encore {left} pour {reward}",
            "nl": "{have}/{need}, nog {left} voor {reward}",
            "de": "{have}/{need}, noch {left} bis {reward}",
            "en": "{have}/{need}, {left} more for {reward}",
        },
        "progress_ready": {
            "fr": "{have}/{need}\u00a0: {reward} vous attend\u00a0!",
            "nl": "{have}/{need}: {reward} staat voor je klaar!",
            "de": "{have}/{need}: {reward} wartet auf Sie!",
            "en": "{have}/{need}: {reward} is waiting for you!",
        },
        "reward_redeemed": {
            "fr": "Récompense\u00a0: {reward}",
            "nl": "Beloning: {reward}",
            "de": "Prämie: {reward}",
            "en": "Reward: {reward}",
        },
        "void_notice": {
            "fr": "Annule le bon {no}",
            "nl": "Annuleert bon {no}",
            "de": "Storniert Beleg {no}",
            "en": "Cancels slip {no}",
        },
        "voided_by": {
            "fr": "ANNULÉ par le bon {no}",
            "nl": "GEANNULEERD met bon {no}",
            "de": "STORNIERT mit Beleg {no}",
            "en": "CANCELLED by slip {no}",
        },
        "claim_hint": {
            "fr": "Pas de carte\u00a0? Scannez ce code dans l’app {scheme} "
            "pour recevoir vos tampons.",
            "nl": "Geen kaart? Scan deze code in de {scheme}-app om je stempels te krijgen.",
            "de": "Keine Karte? Scannen Sie diesen Code in der {scheme}-App, "
            "um Ihre Stempel zu erhalten.",
            "en": "No card? Scan this code in the {scheme} app to collect your stamps.",
        },
        "footer": {
            "fr": "Bon de fidélité — ceci n’est pas un ticket de caisse TVA",
            "nl": "Spaarbon — geen btw-kasticket",
            "de": "Treuebeleg — kein MwSt.-Kassenbon",
            "en": "Loyalty slip — not a VAT receipt",
        },
        # Printed customer cards.
        "card_hint": {
            "fr": "Carte de fidélité · montrez ce code à la caisse",
            "nl": "Klantenkaart · toon deze code aan de kassa",
            "de": "Treuekarte · zeigen Sie diesen Code an der Kasse",
            "en": "Loyalty card · show this code at the counter",
        },
        # Printer faults (the receipt stays in the ledger and can be printed again).
        "printer_none": {
            "fr": "Aucune imprimante n’est configurée\u00a0: le bon reste visible à l’écran.",
            "nl": "Er is geen printer ingesteld: de bon blijft op het scherm beschikbaar.",
            "de": "Kein Drucker eingerichtet: der Beleg bleibt auf dem Bildschirm verfügbar.",
            "en": "No printer is set up: the slip stays available on screen.",
        },
        "printer_absent": {
            "fr": "Imprimante introuvable ({target}). Branchez-la et allumez-la, "
            "puis réimprimez le bon.",
            "nl": "Printer niet gevonden ({target}). Sluit hem aan en zet hem aan, "
            "en druk de bon opnieuw af.",
            "de": "Drucker nicht gefunden ({target}). Schließen Sie ihn an, schalten Sie ihn ein "
            "und drucken Sie den Beleg erneut.",
            "en": "Printer not found ({target}). Plug it in and switch it on, "
            "then print the slip again.",
        },
        "printer_permission": {
            "fr": "Pas le droit d’écrire sur l’imprimante ({target}). Ajoutez l’utilisateur "
            "au groupe lp, puis réimprimez le bon.",
            "nl": "Geen toestemming om naar de printer te schrijven ({target}). Voeg de gebruiker "
            "toe aan de groep lp en druk de bon opnieuw af.",
            "de": "Keine Berechtigung, auf den Drucker zu schreiben ({target}). Nehmen Sie den "
            "Benutzer in die Gruppe lp auf und drucken Sie den Beleg erneut.",
            "en": "No permission to write to the printer ({target}). Add the user to the lp "
            "group, then print the slip again.",
        },
        "printer_unreachable": {
            "fr": "L’imprimante {target} ne répond pas. Vérifiez qu’elle est allumée et "
            "connectée au réseau, puis réimprimez le bon.",
            "nl": "De printer {target} antwoordt niet. Controleer of hij aan staat en op het "
            "netwerk zit, en druk de bon opnieuw af.",
            "de": "Der Drucker {target} antwortet nicht. Prüfen Sie, ob er eingeschaltet und "
            "im Netzwerk ist, und drucken Sie den Beleg erneut.",
            "en": "The printer {target} does not answer. Check that it is on and on the "
            "network, then print the slip again.",
        },
        "printer_failed": {
            "fr": "L’impression a échoué ({target})\u00a0: imprimante éteinte, capot ouvert ou "
            "plus de papier\u00a0? Corrigez puis réimprimez le bon.",
            "nl": "Afdrukken mislukt ({target}): printer uit, klep open of papier op? "
            "Los het op en druk de bon opnieuw af.",
            "de": "Drucken fehlgeschlagen ({target}): Drucker aus, Deckel offen oder Papier "
            "leer? Beheben Sie es und drucken Sie den Beleg erneut.",
            "en": "Printing failed ({target}): printer off, cover open or out of paper? "
            "Fix it, then print the slip again.",
        },
        "printer_paper_out": {
            "fr": "L’imprimante {target} n’a plus de papier. Mettez un rouleau, "
            "puis réimprimez le bon.",
            "nl": "De printer {target} heeft geen papier meer. Plaats een nieuwe rol "
            "en druk de bon opnieuw af.",
            "de": "Im Drucker {target} ist kein Papier mehr. Legen Sie eine neue Rolle ein "
            "und drucken Sie den Beleg erneut.",
            "en": "The printer {target} is out of paper. Load a new roll, "
            "then print the slip again.",
        },
    },
)
