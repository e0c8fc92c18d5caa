"""The two customer-base models, pure numpy/scipy: no Django here.

BG/NBD (Fader, Hardie and Lee, "Counting your customers the easy way", Marketing Science 24,
2005): while alive, a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha);
after each purchase they drop out with probability p ~ Beta(a, b). A customer's history is
(x, t_x, T): x repeat purchases, the last at t_x, observed for T since the first purchase
(time in any unit; the parameters follow the unit).

Gamma-Gamma (Fader and Hardie, "The Gamma-Gamma model of monetary value", 2013): a
customer's spend per purchase averages m_x over x repeat purchases; spends are Gamma(p, nu)
with nu ~ Gamma(q, gamma) across customers, independent of the purchase process.

Both are fitted by maximum likelihood over WEIGHTED rows: customers sharing the same history
count once with their number as weight, so a million customers fit in seconds.
"""

import dataclasses

import numpy as np
from scipy import optimize, special


class FitError(ValueError):
    """The model could not be fitted: the optimiser found no finite maximum."""

    def __init__(self, message: str, counts: dict | None = None):
        super().__init__(message)
        self.counts = counts or {}  # what the data held, for the record


class NotEnoughData(FitError):
    """Too little data to fit (too few repeat buyers)."""


@dataclasses.dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @property
    def population_mean(self) -> float:
        """Expected spend per purchase of a customer we know nothing of."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")


# --- BG/NBD ----------------------------------------------------------------------------------

def bgnbd_log_likelihood(params, x, t_x, T, weights) -> float:
    """Sum of weight x log L(r, alpha, a, b | x, t_x, T): equation (6) of the 2005 paper, in
    logs, its two terms added with logaddexp."""
    r, alpha, a, b = params
    x, t_x, T, weights = (np.asarray(v, dtype=float) for v in (x, t_x, T, weights))
    common = (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
              - special.betaln(a, b))
    alive = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    gone = np.full_like(x, -np.inf)
    gone[repeat] = (special.betaln(a + 1, b + x[repeat] - 1)
                    - (r + x[repeat]) * np.log(alpha + t_x[repeat]))
    return float(np.sum(weights * (common + np.logaddexp(alive, gone))))


def bgnbd_fit(x, t_x, T, weights, *, start=(1.0, 1.0, 1.0, 1.0)) -> BgNbd:
    """Maximum-likelihood (r, alpha, a, b). FitError when it does not converge."""
    def loss(log_params):
        return -bgnbd_log_likelihood(np.exp(log_params), x, t_x, T, weights)

    params = _minimise(loss, np.log(start))
    return BgNbd(*params)


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(still a customer at T | x, t_x, T): equation (11). 1 for those without a repeat
    purchase (the model lets them drop out only after a purchase)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    ratio = np.zeros_like(x)
    repeat = x > 0
    ratio[repeat] = np.exp(np.log(a / (b + x[repeat] - 1))
                           + (r + x[repeat]) * np.log((alpha + T[repeat])
                                                      / (alpha + t_x[repeat])))
    return 1.0 / (1.0 + ratio)


def expected_purchases(model: BgNbd, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T]: equation (10), with Gauss's hypergeometric
    2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    front = (a + b + x - 1) / (a - 1)
    growth = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return front * growth * p_alive(model, x, t_x, T)


def expected_purchases_new(model: BgNbd, t) -> np.ndarray:
    """E[purchases in (0, t]] of a customer just acquired: equation (7)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    t = np.asarray(t, dtype=float)
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


# --- Gamma-Gamma -----------------------------------------------------------------------------

def gamma_gamma_log_likelihood(params, x, m_x, weights) -> float:
    """Sum of weight x log L(p, q, gamma | x, m_x) over customers with repeat purchases."""
    p, q, gamma = params
    x, m_x, weights = (np.asarray(v, dtype=float) for v in (x, m_x, weights))
    value = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
             + q * np.log(gamma) + (p * x - 1) * np.log(m_x) + p * x * np.log(x)
             - (p * x + q) * np.log(gamma + x * m_x))
    return float(np.sum(weights * value))


def gamma_gamma_fit(x, m_x, weights, *, start=(1.0, 1.0, 1.0)) -> GammaGamma:
    """Maximum-likelihood (p, q, gamma) from customers with x > 0 and m_x > 0."""
    def loss(log_params):
        return -gamma_gamma_log_likelihood(np.exp(log_params), x, m_x, weights)

    params = _minimise(loss, np.log(start))
    return GammaGamma(*params)


def expected_spend(model: GammaGamma, x, m_x) -> np.ndarray:
    """E[spend per purchase | x, m_x]: the customer's mean pulled towards the population's
    by how little we have seen (equation (5) of the note); the population mean for x = 0."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    p, q, gamma = model.p, model.q, model.gamma
    with np.errstate(invalid="ignore", divide="ignore"):
        own = (gamma + m_x * x) * p / (p * x + q - 1)
    return np.where(x > 0, own, model.population_mean)


# --- the optimiser -----------------------------------------------------------------------------

def _minimise(loss, start: np.ndarray) -> np.ndarray:
    """Nelder-Mead over the logs of the parameters (so they stay positive), polished by
    BFGS; FitError unless both agree the optimum is finite and stationary."""
    first = optimize.minimize(loss, start, method="Nelder-Mead",
                              options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9})
    final = optimize.minimize(loss, first.x, method="BFGS")
    best = final if final.fun <= first.fun else first
    if not np.isfinite(best.fun) or not np.all(np.isfinite(best.x)) \
            or np.any(np.abs(best.x) > 30):  # e^30: a parameter running off to infinity
        raise FitError(f"the likelihood has no finite maximum here ({best.message})")
    return np.exp(best.x)
