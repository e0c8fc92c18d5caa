"""Fit the value model now and score every customer; optionally run a holdout check."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.models import ValueModelFit
from customers.services.prediction import value_model_fit, value_model_holdout
from customers.services.prediction.models import FitError


def _moment(text: str) -> datetime.datetime:
    """A date (its midnight in the shop's time zone) or an ISO datetime."""
    value = datetime.datetime.fromisoformat(text)
    return timezone.make_aware(value) if timezone.is_naive(value) else value


class Command(BaseCommand):
    help = ("Fit BG/NBD and Gamma-Gamma to the paid orders and write every customer's "
            "predicted CLV, expected purchases, churn probability and value coefficient. "
            "With --holdout CUTOFF END: fit on the orders before CUTOFF and compare the "
            "predictions for [CUTOFF, END) with what customers bought.")

    def add_arguments(self, parser):
        parser.add_argument("--holdout", nargs=2, metavar=("CUTOFF", "END"), type=_moment)

    def handle(self, *args, holdout=None, **options):
        if holdout:
            self._holdout(*holdout)
            return
        self.stdout.write("Fitting the value model to every paid order ...")
        fit = value_model_fit(on_step=lambda line: self.stdout.write(f"  {line}"))
        if fit.status == ValueModelFit.Status.OK:
            self.stdout.write(f"  BG/NBD (per day): {_params(fit.bgnbd)}")
            self.stdout.write(f"  Gamma-Gamma: {_params(fit.gamma_gamma)}")
        else:
            self.stdout.write(self.style.WARNING(f"  Not fitted: {fit.message} The last good "
                                                 f"fit, if any, was used for the scores."))
        self.stdout.write(self.style.SUCCESS(
            f"Done in {fit.duration_ms / 1000:.1f} s: {fit.customers:,} buyers "
            f"({fit.repeat_buyers:,} repeat), {fit.scored:,} customers scored."))

    def _holdout(self, cutoff: datetime.datetime, end: datetime.datetime) -> None:
        if end <= cutoff:
            raise CommandError("END must come after CUTOFF.")
        try:
            check = value_model_holdout(cutoff=cutoff, end=end)
        except FitError as exc:
            raise CommandError(f"The model could not be fitted before {cutoff}: {exc}") from exc
        total = check.report["total"]
        self.stdout.write(f"Repeat purchases in [{cutoff:%Y-%m-%d}, {end:%Y-%m-%d}) by the "
                          f"{total['customers']:,} customers who had bought before:")
        self.stdout.write(f"  predicted {total['predicted']:,.1f}, actual {total['actual']:,} "
                          f"(mean absolute error per customer "
                          f"{total['mean_absolute_error']:.3f})")
        for group in check.report["by_frequency"]:
            self.stdout.write(f"  bought {group['frequency']:>2} times before: "
                              f"{group['customers']:>7,} customers, predicted "
                              f"{group['predicted']:.2f}, actual {group['actual']:.2f} each")


def _params(values: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in values.items())
