"""Issue 14 headless: staff accounts, --staff/--approver on the counter commands, history.

The real ``citie-terminal`` command (click's CliRunner, and a real subprocess for the crash
paths) on a real ledger in tmp_path. Every PIN is 8 digits so that finding it by chance in an
id or a time is out of the question, and every output of every run is searched for it.
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from city.issuer import Issuer
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store
from loyalty.staff import StaffBook
from loyalty.trust import install_trust
from terminal.cli import cli

ANNA = "48213957"  # the manager's PIN
BERT = "73950482"  # the cashier's PIN
WRONG = "60617283"
BAD = "12ab5678"
TERMINAL = [sys.executable, "-m", "terminal.cli"]
PINS = (ANNA, BERT, WRONG, BAD)


class Shop:
    """An initialised terminal with the city's keys, where every output is kept."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "shop"
        self.issuer = Issuer.open(tmp_path / "issuer")
        self.outputs: list[str] = []
        self.env: dict[str, str] = {}
        self.ok("init", "--lang", "en")
        with Store.open(self.data_dir / "ledger.db") as store:
            install_trust(store, self.issuer.trust_list())

    def card(self) -> str:
        return self.issuer.issue_card(expires_days=30)[1]

    def run(self, *args: str, input: str = "", **env: str) -> Result:
        clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CITIE_")}
        result = CliRunner().invoke(
            cli,
            [*args, "--data-dir", str(self.data_dir)],
            input=input,
            env={**clean, **self.env, **env},
        )
        self.outputs += [result.stdout, result.stderr, repr(result.exception)]
        if result.exc_info is not None and result.exception is not None:
            import traceback

            self.outputs.append("".join(traceback.format_exception(*result.exc_info)))
        return result

    def ok(self, *args: str, input: str = "", **env: str) -> Result:
        result = self.run(*args, input=input, **env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def refused(self, reason: str, *args: str, input: str = "", **env: str) -> Result:
        result = self.run(*args, input=input, **env)
        assert result.exit_code == 1, (result.stdout, result.stderr)
        assert f"refused: {reason}:" in result.stderr, result.stderr
        return result

    def json(self, *args: str, input: str = "", **env: str) -> dict[str, object]:
        data = json.loads(self.ok(*args, "--json", input=input, **env).stdout)
        assert isinstance(data, dict)
        return data

    def no_pin_shown(self) -> None:
        for text in self.outputs:
            for pin in PINS:
                assert pin not in text, (pin, text)


def _unread(fd: int) -> int:
    """Bytes written into a pipe that its reader has not taken yet (Linux: either end)."""
    size = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, size)
    return int(size[0])


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    shop = Shop(tmp_path)
    anna = shop.json("staff", "add", "Anna Peeters", "--role", "manager", input=f"{ANNA}\n")
    assert anna["role"] == "manager" and str(anna["id"]).startswith("st-")
    return shop


def add_bert(shop: Shop) -> dict[str, object]:
    return shop.json(
        "staff", "add", "Bert", "--role", "cashier", "--approver", "anna", input=f"{ANNA}\n{BERT}\n"
    )


def test_no_command_takes_a_pin_on_the_command_line() -> None:
    """ps shows every process's arguments: no option of any command may carry a PIN."""

    def walk(command: click.Command, path: str) -> list[str]:
        found = [
            f"{path} {param.name}"
            for param in command.params
            if param.name is not None and "pin" in param.name.lower()
        ]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += walk(sub, f"{path} {name}")
        return found

    assert walk(cli, "citie-terminal") == []


def test_staff_accounts_and_who_records_what(shop: Shop) -> None:
    # Once a manager exists, adding staff needs a manager.
    shop.refused("approval_needed", "staff", "add", "Bert", "--role", "cashier", input=BERT)
    bert = add_bert(shop)
    listed = shop.json("staff", "list")["staff"]
    assert isinstance(listed, list)
    assert [(m["name"], m["role"], m["locked"]) for m in listed] == [
        ("Anna Peeters", "manager", False),
        ("Bert", "cashier", False),
    ]
    code = shop.card()
    # Staff exist: every counter command says who records.
    shop.refused("staff_required", "stamp", code)
    shop.refused("staff_required", "purchase", "--amount", "5")
    stamped = shop.json("stamp", code, "--staff", "Bert", input=f"{BERT}\n")
    assert (stamped["staff_id"], stamped["approver_id"]) == (bert["id"], None)
    # The PIN may come from the environment too, as a till's script passes it.
    bought = shop.json(
        "purchase", code, "--amount", "12,50", "--staff", "bert", CITIE_STAFF_PIN=BERT
    )
    assert bought["staff_id"] == bert["id"]
    # A cashier's void needs a manager; the void records both.
    refusal = shop.refused(
        "approval_needed", "void", str(stamped["receipt_no"]), "--staff", "Bert", input=f"{BERT}\n"
    )
    assert "--approver" in refusal.stderr
    voided = shop.json(
        "void",
        str(stamped["receipt_no"]),
        "--staff",
        "Bert",
        "--approver",
        "Anna Peeters",
        input=f"{BERT}\n{ANNA}\n",
    )
    anna_id = listed[0]["id"]
    assert (voided["staff_id"], voided["approver_id"]) == (bert["id"], anna_id)
    # A manager's own void is approved by themselves.
    alone = shop.json(
        "void", str(bought["receipt_no"]), "--staff", "anna peeters", input=f"{ANNA}\n"
    )
    assert (alone["staff_id"], alone["approver_id"]) == (anna_id, anna_id)
    # A cashier cannot approve.
    shop.refused(
        "not_a_manager",
        "stamp",
        code,
        "--count",
        "4",
        "--staff",
        "Bert",
        "--approver",
        "Bert",
        input=f"{BERT}\n{BERT}\n",
    )
    rows = [json.loads(line) for line in shop.ok("history", "--json").stdout.splitlines() if line]
    assert [(r["kind"], r["staff_name"], r["approver_name"]) for r in rows] == [
        ("void", "Anna Peeters", "Anna Peeters"),
        ("void", "Bert", "Anna Peeters"),
        ("purchase", "Bert", None),
        ("stamp", "Bert", None),
    ]
    text = shop.ok("history", "--staff", "Bert", "--card", code, "--lang", "en").stdout
    assert "approved by Anna Peeters" in text and len(text.splitlines()) == 3
    # Removed: no more actions, but history keeps the name.
    shop.ok("staff", "remove", "Bert", "--approver", "Anna Peeters", input=f"{ANNA}\n")
    shop.refused("unknown_staff", "stamp", code, "--staff", "Bert", input=f"{BERT}\n")
    assert "Bert" in shop.ok("history", "--staff", "Bert").stdout
    shop.refused(
        "last_manager",
        "staff",
        "remove",
        "Anna Peeters",
        "--approver",
        "Anna Peeters",
        input=f"{ANNA}\n",
    )
    shop.no_pin_shown()


def test_approval_rules_and_refusals_in_the_shops_language(shop: Shop) -> None:
    add_bert(shop)
    shop.env = {"CITIE_PROGRAM_REWARD_THRESHOLD": "3", "CITIE_PROGRAM_MAX_STAMPS_PER_DAY": "20"}
    code = shop.card()
    over = shop.refused(
        "approval_needed",
        "stamp",
        code,
        "--count",
        "4",
        "--staff",
        "Bert",
        "--lang",
        "fr",
        input=f"{BERT}\n",
    )
    assert "responsable" in over.stderr and "--approver" in over.stderr
    shop.json("stamp", code, "--count", "3", "--staff", "Bert", input=f"{BERT}\n")
    big = shop.refused(
        "approval_needed",
        "purchase",
        "--amount",
        "200,01",
        "--staff",
        "Bert",
        "--lang",
        "nl",
        input=f"{BERT}\n",
    )
    assert "200,00" in big.stderr and "verantwoordelijke" in big.stderr
    approved = shop.json(
        "purchase",
        "--amount",
        "250",
        "--staff",
        "Bert",
        "--approver",
        "Anna Peeters",
        input=f"{BERT}\n{ANNA}\n",
    )
    assert approved["approver_id"] is not None
    # Beyond the offline allowance: refused as before, unless the override is on and a
    # manager approves.
    shop.json("stamp", code, "--count", "3", "--staff", "Anna Peeters", input=f"{ANNA}\n")
    shop.json("redeem", code, "--staff", "Bert", input=f"{BERT}\n")
    shop.refused("offline_card_limit", "redeem", code, "--staff", "Bert", input=f"{BERT}\n")
    on = {"CITIE_LIMITS_ALLOW_MANAGER_OVERRIDE": "true"}
    shop.refused("approval_needed", "redeem", code, "--staff", "Bert", input=f"{BERT}\n", **on)
    redeemed = shop.json(
        "redeem",
        code,
        "--staff",
        "Bert",
        "--approver",
        "Anna Peeters",
        input=f"{BERT}\n{ANNA}\n",
        **on,
    )
    assert redeemed["approver_id"] is not None and redeemed["kind"] == "redeem"
    shop.no_pin_shown()


def test_wrong_pins_lock_until_a_manager_unlocks(shop: Shop) -> None:
    add_bert(shop)
    code = shop.card()
    two = {"CITIE_STAFF_MAX_FAILURES": "2"}
    wrong = shop.refused("wrong_pin", "stamp", code, "--staff", "Bert", input=f"{WRONG}\n", **two)
    assert "1" in wrong.stderr
    shop.refused("locked", "stamp", code, "--staff", "Bert", input=f"{WRONG}\n", **two)
    shop.refused("locked", "stamp", code, "--staff", "Bert", input=f"{BERT}\n", **two)
    listed = shop.json("staff", "list")["staff"]
    assert isinstance(listed, list) and listed[1]["locked"] is True
    shop.refused("approval_needed", "staff", "unlock", "Bert")
    shop.refused(
        "not_a_manager", "staff", "unlock", "Bert", "--approver", "Bert", input=f"{BERT}\n"
    )
    shop.ok("staff", "unlock", "Bert", "--approver", "Anna Peeters", input=f"{ANNA}\n")
    shop.json("stamp", code, "--staff", "Bert", input=f"{BERT}\n", **two)
    # A PIN of the wrong form and a missing one are refused without being repeated.
    shop.refused("pin_format", "stamp", code, "--staff", "Bert", input=f"{BAD}\n")
    shop.refused("pin_missing", "stamp", code, "--staff", "Bert", input="")
    # A new PIN: the current one first, then the new one.
    shop.ok("staff", "pin", "Bert", input=f"{BERT}\n{WRONG}\n")
    shop.refused("wrong_pin", "stamp", code, "--staff", "Bert", input=f"{BERT}\n")
    shop.no_pin_shown()


def test_init_makes_the_first_manager_from_standard_input(tmp_path: Path) -> None:
    shop = Shop.__new__(Shop)
    shop.data_dir = tmp_path / "fresh"
    shop.outputs = []
    shop.env = {}
    hint = shop.ok("init", "--lang", "en")
    assert "staff add NAME --role manager" in hint.stdout
    made = shop.json("init", "--manager", "Anna", input=f"{ANNA}\n")
    manager = made["manager"]
    assert isinstance(manager, dict) and manager["name"] == "Anna"
    assert manager["role"] == "manager"
    again = shop.ok("init", "--manager", "Anna", "--lang", "en")
    assert "Nothing to do" in again.stdout
    shop.refused("approval_needed", "init", "--manager", "Zoe")
    shop.no_pin_shown()


def test_no_pin_in_any_output_when_a_run_is_interrupted(shop: Shop, tmp_path: Path) -> None:
    """A real process stopped (Ctrl+C) after it read the staff PIN, while it waits for the
    approver's: its output and its arguments never hold the PIN."""
    add_bert(shop)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    command = [
        sys.executable,
        "-m",
        "terminal.cli",
        "void",
        "demo-t1-1",
        "--staff",
        "Bert",
        "--approver",
        "Anna Peeters",
        "--data-dir",
        str(shop.data_dir),
    ]
    assert all(pin not in " ".join(command) for pin in PINS)
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdin is not None
    process.stdin.write(f"{BERT}\n".encode())
    process.stdin.flush()
    # Wait until the process took the staff PIN off the pipe: it is then checking it or
    # waiting for the approver's.
    deadline = time.monotonic() + 60
    while _unread(process.stdin.fileno()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _unread(process.stdin.fileno()) == 0
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    assert all(pin.encode() not in cmdline for pin in PINS)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert b"Aborted" in err or process.returncode == -signal.SIGINT
    for pin in PINS:
        assert pin.encode() not in out + err, err
    # And a run that ends in a traceback (the ledger is not a ledger) says nothing of it.
    (shop.data_dir / "ledger.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    done = subprocess.run(
        command,
        input=f"{BERT}\n{ANNA}\n".encode(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    for pin in PINS:
        assert pin.encode() not in done.stdout + done.stderr


def test_report_gives_figures_per_staff_member(shop: Shop) -> None:
    bert = add_bert(shop)
    code = shop.card()
    stamped = shop.json("stamp", code, "--count", "2", "--staff", "Bert", input=f"{BERT}\n")
    shop.json("purchase", code, "--amount", "12,50", "--staff", "Bert", input=f"{BERT}\n")
    shop.json(
        "void",
        str(stamped["receipt_no"]),
        "--staff",
        "Bert",
        "--approver",
        "Anna Peeters",
        input=f"{BERT}\n{ANNA}\n",
    )
    day = shop.json("report")
    staff = day["staff"]
    assert isinstance(staff, list)
    by_name = {row["name"]: row for row in staff}
    assert by_name["Bert"] == {
        "staff_id": bert["id"],
        "name": "Bert",
        "stamps": 3,  # 2 by hand + 1 for the visit's purchase, as recorded; the void is Bert's
        "rewards": 0,
        "purchases": 1,
        "purchase_total_cents": 1250,
        "voids": 1,
        "approvals": 0,
    }
    assert by_name["Anna Peeters"]["approvals"] == 1
    assert by_name["Anna Peeters"]["voids"] == 0
    rows = shop.ok("report", "--csv", "--by-staff").stdout.splitlines()
    assert rows[0] == "staff_id,name,stamps,rewards,purchases,purchase_total,voids,approvals"
    assert f"{bert['id']},Bert,3,0,1,12.50,1,0" in rows
    text = shop.ok("report", "--lang", "en").stdout
    assert "Per staff member:" in text
    assert "Bert: 3 stamps, 0 rewards, 1 purchases, 1 voids, 0 approvals given" in text
    month = shop.json("report", "--month", str(stamped["occurred_at"])[:7])
    total = month["total"]
    assert isinstance(total, dict)
    assert {row["name"]: row["approvals"] for row in total["staff"]} == {
        "Anna Peeters": 1,
        "Bert": 0,
    }
    shop.no_pin_shown()


def test_the_last_manager_locked_out_is_unlocked_by_the_folders_owner(shop: Shop) -> None:
    add_bert(shop)
    code = shop.card()
    one = {"CITIE_STAFF_MAX_FAILURES": "1"}
    shop.refused("locked", "stamp", code, "--staff", "Anna Peeters", input=f"{WRONG}\n", **one)
    # A cashier is never unlocked that way, and while a manager can approve it is needed.
    shop.refused("locked", "stamp", code, "--staff", "Bert", input=f"{WRONG}\n", **one)
    shop.refused("approval_needed", "staff", "unlock", "Bert")
    shop.ok("staff", "unlock", "Anna Peeters")
    shop.refused("approval_needed", "staff", "unlock", "Bert")
    shop.ok("staff", "unlock", "Bert", "--approver", "Anna Peeters", input=f"{ANNA}\n")
    shop.no_pin_shown()


def test_init_asks_for_the_first_manager_in_a_terminal(tmp_path: Path) -> None:
    """In a terminal (a pseudo-terminal here, in a session of its own so that the PIN is read
    from it and not from the terminal running the tests), init asks for the first manager's
    name and the PIN twice, hidden: the PIN is never echoed back."""
    data = tmp_path / "asked"
    leader, follower = pty.openpty()
    answers = "Bakkerij Peeters\nOoststraat 5\neen gratis brood\n8\nAnna Peeters\n"
    os.write(leader, answers.encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    process = subprocess.Popen(
        [*TERMINAL, "init", "--data-dir", str(data), "--shop-language", "nl"],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    assert process.stderr is not None
    shown = b""
    asked = b""
    prompts = [b"Nieuwe pincode van Anna Peeters", b"Dezelfde pincode nog eens"]
    deadline = time.monotonic() + 60
    while process.poll() is None or prompts:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"init kept asking: {shown!r} {asked!r}")
        ready, _, _ = select.select([leader, process.stderr], [], [], 1)
        if leader in ready:
            try:
                shown += os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                if process.poll() is not None:
                    break
        if process.stderr in ready:
            chunk = os.read(process.stderr.fileno(), 4096)
            asked += chunk
            if not chunk and process.poll() is not None:
                break
        # Each PIN is typed only once its question is shown: getpass flushes what was typed
        # ahead when it turns the echo off.
        if prompts and prompts[0] in asked:
            prompts.pop(0)
            os.write(leader, f"{ANNA}\n".encode())
    os.close(leader)
    process.stderr.close()
    assert process.wait(timeout=60) == 0, shown + asked
    assert ANNA.encode() not in shown + asked
    assert b"Anna Peeters" in shown
    with Store.open(data / "ledger.db") as store:
        book = StaffBook(store)
        manager = book.check_pin("anna peeters", ANNA)
    assert manager.is_manager
