"""Gift vouchers: sold at the desk, spent on visits, what is left on each worked out from its payments.

`voucher_sell` writes the voucher and the payment that bought it (card, cash…: money in the day's
takings) in one transaction, with a code nobody can guess (`XXXX-XXXX`, no 0/O or 1/I to misread) and,
if an address is given, the voucher emailed through the outbox. A visit is paid with it like any other
way (`treatments.payments.payment_take`, method "voucher", the code as its reference): the voucher is
locked, and refused in words when unknown, past its date, or holding less than asked. A refund of that
payment puts the money back on the voucher; a refund of the sale (a manager's) takes back what is
still on it. What is left is never stored: it is the amount, less what was given back of the sale,
less what paid for visits, plus what was given back to it (`left_on`, `with_left`).
"""

import datetime as dt
import re
import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, ExpressionWrapper, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.errors import ClinicError
from clinic.models import Clinic, StaffMember
from clinic.outbox import outbox_message, outbox_write
from clinic.parsing import text_typed
from clinic.wording import day_said
from treatments.models import GiftVoucher, Payment, PaymentMethod
from treatments.selectors import MONEY, NO_MONEY

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VOUCHER_EMAIL = "gift_voucher"
NAME_MAX_CHARACTERS = 150


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def code_typed(text: str | None) -> str:
    """A code as someone reads it out or types it ("abcd efgh", "ABCD-EFGH") as it is stored."""
    cleaned = re.sub(r"[\s\-]", "", text_typed(text).upper())
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) == 8 else cleaned


def left_on(voucher: GiftVoucher) -> Decimal:
    """What is left to spend on the voucher (one query), as `with_left` works it out."""
    return with_left(GiftVoucher.objects.filter(pk=voucher.pk)).values_list("left", flat=True).get()


def with_left(vouchers: QuerySet[GiftVoucher]) -> QuerySet[GiftVoucher]:
    """Annotate each voucher with `left` (as `left_on` works it out) and `used`: no more queries."""

    def summed(**match) -> Coalesce:
        rows = Payment.objects.filter(**match).order_by().values("clinic")
        return Coalesce(
            Subquery(rows.annotate(total=Sum("amount")).values("total"), output_field=MONEY), NO_MONEY
        )

    sale_given_back = summed(voucher_sold=OuterRef("pk"), refund_of__isnull=False)
    spent = summed(voucher=OuterRef("pk"), refund_of=None)
    put_back = summed(voucher=OuterRef("pk"), refund_of__isnull=False)
    return vouchers.annotate(
        left=ExpressionWrapper(F("amount") - sale_given_back - spent + put_back, output_field=MONEY),
        used=Exists(Payment.objects.filter(voucher=OuterRef("pk"))),
    )


def _voucher_words(voucher: GiftVoucher, clinic: Clinic) -> dict:
    return {
        "code": voucher.code,
        "amount": clinic.price_text(voucher.amount),
        "for_whom": voucher.for_whom,
        "bought_by": voucher.bought_by,
        "expires_on": day_said(voucher.expires_on),
    }


@transaction.atomic
def voucher_sell(
    *,
    clinic: Clinic,
    amount,
    method: str,
    by: StaffMember,
    bought_by: str,
    expires_on: dt.date | None,
    for_whom: str = "",
    email: str = "",
    reference: str = "",
) -> GiftVoucher:
    """Sell a gift voucher: the voucher and the payment for it, and its email if an address is given."""
    from treatments.payments import amount_given, payment_method, payment_reference  # it imports this

    if by.clinic_id != clinic.pk:
        raise ClinicError("This is another clinic's.", code="other_clinic")
    amount = amount_given(amount)
    method = payment_method(method)
    if method == PaymentMethod.VOUCHER:
        raise ClinicError("A gift voucher is bought with money, not with another voucher.", code="method")
    bought_by, for_whom, email = text_typed(bought_by), text_typed(for_whom), text_typed(email)
    if not bought_by:
        raise ClinicError("Say who bought it, for the voucher's record.", code="buyer_missing")
    if len(bought_by) > NAME_MAX_CHARACTERS or len(for_whom) > NAME_MAX_CHARACTERS:
        raise ClinicError(f"Keep each name to {NAME_MAX_CHARACTERS} characters.", code="name_too_long")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ClinicError(f"“{email}” is not an email address.", code="email") from None
    today = timezone.localdate(timezone=clinic.zone)
    if expires_on is None or expires_on <= today:
        raise ClinicError("Give the day the voucher is good until, after today.", code="expiry")
    if expires_on > today + dt.timedelta(days=5 * 366):
        raise ClinicError("A voucher is good for at most five years.", code="expiry")
    code = new_code()
    while GiftVoucher.objects.filter(clinic=clinic, code=code).exists():
        code = new_code()
    voucher = GiftVoucher.objects.create(
        clinic=clinic,
        code=code,
        amount=amount,
        bought_by=bought_by,
        for_whom=for_whom,
        email=email,
        expires_on=expires_on,
        sold_by=by,
    )
    Payment.objects.create(
        clinic=clinic,
        voucher_sold=voucher,
        amount=amount,
        method=method,
        reference=payment_reference(reference),
        taken_by=by,
    )
    if email:
        outbox_write(
            [
                outbox_message(
                    clinic=clinic,
                    recipient_email=email,
                    recipient_name=bought_by,
                    template_key=VOUCHER_EMAIL,
                    dedupe_key=f"gift-voucher:{voucher.pk}",
                    topic=f"voucher:{voucher.pk}",
                    context=_voucher_words(voucher, clinic),
                )
            ]
        )
    return voucher


def voucher_to_spend(clinic: Clinic, code: str, amount: Decimal) -> GiftVoucher:
    """The voucher a payment is taken from, locked; or ClinicError saying why it cannot pay `amount`."""
    typed = code_typed(code)
    if not typed:
        raise ClinicError(
            "Type the gift voucher's code as the slip or voucher number.", code="voucher_code_missing"
        )
    voucher = GiftVoucher.objects.select_for_update().filter(clinic=clinic, code=typed).first()
    if voucher is None:
        raise ClinicError(
            f"No gift voucher of this clinic has the code {typed}: check it.", code="voucher_unknown"
        )
    today = timezone.localdate(timezone=clinic.zone)
    if voucher.expires_on < today:
        raise ClinicError(
            f"Gift voucher {voucher.code} was good until {day_said(voucher.expires_on)}.",
            code="voucher_expired",
        )
    left = left_on(voucher)
    if left <= 0:
        raise ClinicError(f"Nothing is left on gift voucher {voucher.code}.", code="voucher_spent")
    if amount > left:
        raise ClinicError(
            f"Gift voucher {voucher.code} has {clinic.price_text(left)} left: take that from it, "
            "and the rest another way.",
            code="voucher_short",
        )
    return voucher


ERASED_NAME = "Erased client"


def vouchers_after_erasure(client) -> int:
    """Take an erased client's name and email off the gift vouchers that hold them, keeping the
    vouchers (the money sold, spent and left stays to the penny). Registered with `clients.erasure`,
    in its transaction, before the client's own details are wiped. Returns the vouchers changed.

    Their email goes wherever a voucher holds it. Their name goes where a voucher holds it as the buyer
    or for whom and is theirs by more than the name: the voucher holds their email too, or paid for
    one of their visits. A namesake's voucher keeps its name.
    """
    vouchers = GiftVoucher.objects.filter(clinic_id=client.clinic_id)
    theirs = vouchers.filter(payments__appointment__client_id=client.pk)
    if client.email:
        theirs = theirs | vouchers.filter(email__iexact=client.email)
    ids = set(theirs.values_list("pk", flat=True))
    name = f"{client.first_name} {client.last_name}".strip()
    changed = vouchers.filter(pk__in=ids, bought_by__iexact=name).update(bought_by=ERASED_NAME)
    changed += vouchers.filter(pk__in=ids, for_whom__iexact=name).update(for_whom=ERASED_NAME)
    if client.email:
        changed += vouchers.filter(email__iexact=client.email).update(email="")
    return changed
