"""Two-step sign-in: after the password, a code from an authenticator app on the person's phone.

The codes are RFC 6238's (TOTP: HMAC-SHA1, 30-second steps, six digits), which every authenticator
app makes; the secret reaches the app from a QR code or typed in. A code is accepted for the step
before and after the server's (a phone's clock a little off), and never twice: the step of the last
code used is kept, under a row lock, so a code seen over someone's shoulder cannot sign in again.
Ten recovery codes, each used once, stand in for a lost phone; a manager can also turn a
colleague's two-step sign-in off, and a clinic can require it of everyone (`Clinic.two_step_required`).

Wrong codes count with wrong passwords (`clinic.sign_in`): five in fifteen minutes pause the sign-in.

On a device only they use, someone may ask not to be asked for a code there for REMEMBERED_FOR: the
browser keeps a random token (an HttpOnly cookie), the database its hash (`TwoStepDevice`). The
password is still asked for. A new password, two-step sign-in turned off, leaving the clinic, or the
person's "forget" button forgets every device at once.
"""

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

import segno
from django.db import transaction
from django.utils import timezone

from clinic.account_events import account_event_record
from clinic.errors import ClinicError
from clinic.models import AccountAction, Clinic, RecoveryCode, StaffMember, TwoStepDevice, TwoStepKey
from clinic.permissions import require_manager_of

STEP_SECONDS = 30
DIGITS = 6
# Codes of this many steps either side of now are accepted: a phone's clock 30 seconds off still works.
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# Recovery codes are written in these letters and digits (no 0/o, 1/l/i to misread), in two halves.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_HALF = 5
# The session keys of a sign-in between its password and its code, and of one that gave its code.
PENDING_SESSION_KEY = "two_step_pending"
VERIFIED_SESSION_KEY = "two_step_verified"
# How long the code page waits after the password, in seconds; then the password is asked again.
PENDING_SECONDS = 300

WRONG_CODE = (
    "That code does not match. Type the six digits your authenticator app shows now (they change every "
    "30 seconds), or one of your recovery codes."
)


def new_secret() -> str:
    """A new secret: 160 random bits (RFC 4226's recommended length) in base32, without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The code an authenticator app shows for `secret` during `step` (RFC 4226's HOTP of the step)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step_of(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def _cleaned(code: str) -> str:
    return "".join(ch for ch in str(code or "").lower() if ch.isalnum())[:32]


def _matching_step(secret: str, code: str, *, now: dt.datetime, after: int) -> int | None:
    """The step (later than `after`) whose code this is, within the drift allowed; None if none."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_of(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > after and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(key: TwoStepKey, *, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code (Google's Key Uri Format)."""
    account = key.user.get_username()
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode({"secret": key.secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def qr_code_svg(uri: str) -> str:
    """The address as an inline SVG QR code, drawn here: no image service sees the secret."""
    return segno.make_qr(uri, error="m").svg_inline(omitsize=True, title="QR code for your authenticator app")


def secret_in_groups(secret: str) -> str:
    """The secret as typed into an app by hand: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# How long a device someone trusts skips the code, and the cookie its token is kept in.
REMEMBERED_FOR = dt.timedelta(days=30)
DEVICE_COOKIE = "clinic_two_step_device"


def device_remember(user, *, described: str = "", now: dt.datetime | None = None) -> str:
    """Trust this browser for REMEMBERED_FOR: return the token for its cookie (kept here only as a hash)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    TwoStepDevice.objects.create(
        user=user,
        token_hash=_hash(token),
        described=described[:200],
        created_at=now,
        last_used_at=now,
        expires_at=now + REMEMBERED_FOR,
    )
    TwoStepDevice.objects.filter(user=user, expires_at__lte=now).delete()
    account_event_record(user, AccountAction.DEVICE_REMEMBERED)
    return token


def device_remembered(user, token: str | None, *, now: dt.datetime | None = None) -> bool:
    """Whether `token` (a browser's cookie) is one of this user's trusted devices, still in its time;
    noted as used. Two queries at most."""
    if not token:
        return False
    now = now or timezone.now()
    return bool(
        TwoStepDevice.objects.filter(user=user, token_hash=_hash(token), expires_at__gt=now).update(
            last_used_at=now
        )
    )


def devices_forget(user, *, by=None) -> int:
    """Forget every device the user trusted: each asks for a code again. How many were forgotten."""
    forgotten, _ = TwoStepDevice.objects.filter(user=user).delete()
    if forgotten:
        account_event_record(user, AccountAction.DEVICES_FORGOTTEN, by=by)
    return forgotten


@transaction.atomic
def devices_forget_for(member: StaffMember, *, by: StaffMember) -> int:
    """A manager forgets a colleague's trusted devices (a lost tablet, a shared laptop): each asks for
    their code again. How many were forgotten."""
    require_manager_of(member.clinic, by)
    return devices_forget(member.user, by=by.user)


def remembered_devices(members: list[StaffMember], *, now: dt.datetime | None = None) -> dict[int, list]:
    """Each member's devices still skipping the code, by user id, last used first; one query."""
    now = now or timezone.now()
    found: dict[int, list[TwoStepDevice]] = {m.user_id: [] for m in members}
    for device in TwoStepDevice.objects.filter(user_id__in=list(found), expires_at__gt=now).order_by(
        "-last_used_at", "-id"
    ):
        found[device.user_id].append(device)
    return found


def two_step_on(user) -> bool:
    """Whether a sign-in as this user asks for a code. One query."""
    return TwoStepKey.objects.filter(user=user, confirmed_at__isnull=False).exists()


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _recovery_codes_new(user) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returned once, kept only as hashes."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [
        "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_HALF)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash(_cleaned(c))) for c in codes])
    return codes


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def two_step_begin(user, *, now: dt.datetime | None = None) -> TwoStepKey:
    """Make a new secret for the user's app, not yet in force (a secret begun before is replaced)."""
    key = TwoStepKey.objects.select_for_update().filter(user=user).first()
    if key is not None and key.confirmed_at is not None:
        raise ClinicError("Two-step sign-in is on already.", code="two_step_on")
    if key is None:
        key = TwoStepKey(user=user)
    key.secret = new_secret()
    key.created_at = now or timezone.now()
    key.save()
    return key


@transaction.atomic
def two_step_confirm(user, *, code: str, now: dt.datetime | None = None) -> list[str]:
    """Put the secret begun in force once the person types a code from their app (it reached the app);
    return their ten recovery codes, which are shown this once."""
    now = now or timezone.now()
    key = TwoStepKey.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if key is None:
        raise ClinicError("Start again: set up two-step sign-in from its page.", code="two_step_not_begun")
    step = _matching_step(key.secret, _cleaned(code), now=now, after=0)
    if step is None:
        raise ClinicError(
            f"That code does not match. Check the app shows “{user.get_username()}” and type the six "
            "digits it shows now.",
            code="wrong_setup_code",  # their own app being set up: not counted as a guess
        )
    key.confirmed_at = now
    key.last_used_step = step
    key.save(update_fields=["confirmed_at", "last_used_step"])
    account_event_record(user, AccountAction.TWO_STEP_ON)
    return _recovery_codes_new(user)


@transaction.atomic
def two_step_check(user, *, code: str, now: dt.datetime | None = None) -> bool:
    """Check a sign-in's second step: a code from the app not used before, or an unused recovery code
    (used up by this). False for anything else, or for a user without two-step sign-in."""
    now = now or timezone.now()
    key = TwoStepKey.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if key is None:
        return False
    cleaned = _cleaned(code)
    if cleaned.isdigit():
        step = _matching_step(key.secret, cleaned, now=now, after=key.last_used_step)
        if step is None:
            return False
        key.last_used_step = step
        key.save(update_fields=["last_used_step"])
        return True
    used = RecoveryCode.objects.filter(user=user, code_hash=_hash(cleaned), used_at__isnull=True).update(
        used_at=now
    )
    if used:
        account_event_record(user, AccountAction.RECOVERY_CODE_USED)
    return used == 1


@transaction.atomic
def recovery_codes_renew(user, *, code: str, now: dt.datetime | None = None) -> list[str]:
    """Ten new recovery codes for the old ones (a code from the app first); returned this once."""
    if not two_step_check(user, code=code, now=now):
        raise ClinicError(WRONG_CODE, code="wrong_code")
    account_event_record(user, AccountAction.RECOVERY_CODES_RENEWED)
    return _recovery_codes_new(user)


def _required_for(user) -> bool:
    try:
        return user.staff.clinic.two_step_required
    except StaffMember.DoesNotExist:
        return False


@transaction.atomic
def two_step_turn_off(user, *, code: str, now: dt.datetime | None = None) -> None:
    """Turn one's own two-step sign-in off (a code from the app first); not where the clinic requires it."""
    if _required_for(user):
        raise ClinicError(
            "Your clinic asks everyone to sign in with a code: two-step sign-in stays on. A new phone? "
            "Set it up again from here after a manager turns yours off.",
            code="two_step_required",
        )
    if not two_step_check(user, code=code, now=now):
        raise ClinicError(WRONG_CODE, code="wrong_code")
    _two_step_remove(user)


@transaction.atomic
def two_step_reset_for(member: StaffMember, *, by: StaffMember) -> None:
    """A manager turns a colleague's two-step sign-in off (a lost phone, no recovery codes left): they
    sign in with their password alone, or set it up again next time where the clinic requires it."""
    require_manager_of(member.clinic, by)
    _two_step_remove(member.user, by=by.user)


def _two_step_remove(user, *, by=None) -> None:
    """Forget the user's secret and recovery codes: their password alone signs them in again."""
    TwoStepKey.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    TwoStepDevice.objects.filter(user=user).delete()
    account_event_record(user, AccountAction.TWO_STEP_OFF, by=by)


def clinic_two_step_require(clinic: Clinic, *, required: bool, by: StaffMember) -> None:
    """Ask (or stop asking) every staff member of the clinic for a code at sign-in."""
    require_manager_of(clinic, by)
    Clinic.objects.filter(pk=clinic.pk).update(two_step_required=required)
    clinic.two_step_required = required


def users_with_two_step(members: list[StaffMember]) -> set[int]:
    """The user ids among these members with two-step sign-in on; one query."""
    return set(
        TwoStepKey.objects.filter(
            user_id__in=[m.user_id for m in members], confirmed_at__isnull=False
        ).values_list("user_id", flat=True)
    )
