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
    return _BgNbdHistories(x, t_x, T, weights).log_likelihood(np.asarray(params, dtype=float))


class _BgNbdHistories:
    """Histories prepared for the optimiser. Every special function depends on x alone and
    every logarithm on T or t_x alone, so each is computed on the few distinct values and
    gathered: an evaluation costs a handful of vector operations over the rows."""

    def __init__(self, x, t_x, T, weights):
        x, t_x, T, self.weights = (np.asarray(v, dtype=float) for v in (x, t_x, T, weights))
        self.x, self.total = x, self.weights.sum()
        self.xs, self.at_x = np.unique(x, return_inverse=True)
        self.ts, self.at_t = np.unique(T, return_inverse=True)
        self.t_xs, self.at_t_x = np.unique(t_x, return_inverse=True)
        self.repeat_x = self.xs > 0
        self.repeat = x > 0

    def _terms(self, r, alpha, a, b):
        xs = self.xs
        common = special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha) \
            - special.betaln(a, b)
        alive = special.betaln(a, b + xs)[self.at_x] \
            - (r + self.x) * np.log(alpha + self.ts)[self.at_t]
        gone_x = np.full_like(xs, -np.inf)
        gone_x[self.repeat_x] = special.betaln(a + 1, b + xs[self.repeat_x] - 1)
        gone = np.where(self.repeat,
                        gone_x[self.at_x] - (r + self.x) * np.log(alpha + self.t_xs)[self.at_t_x],
                        -np.inf)
        return common[self.at_x], alive, gone

    def log_likelihood(self, params) -> float:
        common, alive, gone = self._terms(*params)
        return float(np.sum(self.weights * (common + np.logaddexp(alive, gone))))

    def loss(self, log_params):
        """(-mean log-likelihood, its gradient) in the logs of the parameters."""
        r, alpha, a, b = params = np.exp(log_params)
        common, alive, gone = self._terms(r, alpha, a, b)
        total = np.logaddexp(alive, gone)
        if not np.all(np.isfinite(total)):
            return np.inf, np.zeros(4)
        w_alive = np.exp(alive - total)  # the share of the likelihood from "still alive"
        w_gone = 1 - w_alive
        xs = self.xs
        x, at_x = self.x, self.at_x
        psi = special.digamma
        log_t = np.log(alpha + self.ts)[self.at_t]
        log_t_x = np.log(alpha + self.t_xs)[self.at_t_x]
        psi_abx = psi(a + b + xs)[at_x]
        psi_bx_1 = np.zeros_like(xs)
        psi_bx_1[self.repeat_x] = psi(b + xs[self.repeat_x] - 1)
        d_r = psi(r + xs)[at_x] - psi(r) + np.log(alpha) - w_alive * log_t - w_gone * log_t_x
        d_alpha = r / alpha - (r + x) * (w_alive / (alpha + self.ts[self.at_t])
                                         + w_gone / (alpha + self.t_xs[self.at_t_x]))
        d_a = -(psi(a) - psi(a + b)) + w_alive * (psi(a) - psi_abx) \
            + w_gone * (psi(a + 1) - psi_abx)
        d_b = -(psi(b) - psi(a + b)) + w_alive * (psi(b + xs)[at_x] - psi_abx) \
            + w_gone * (psi_bx_1[at_x] - psi_abx)
        gradient = np.array([_weighted_sum(self.weights, d) for d in (d_r, d_alpha, d_a, d_b)])
        value = _weighted_sum(self.weights, common + total)
        return -value / self.total, -gradient * params / self.total


def bgnbd_fit(x, t_x, T, weights, *, start=(1.0, 1.0, 1.0, 1.0)) -> BgNbd:
    """Maximum-likelihood (r, alpha, a, b). FitError when it does not converge."""
    return BgNbd(*_minimise(_BgNbdHistories(x, t_x, T, weights).loss, np.log(start)))


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
    return _Spends(x, m_x, weights).log_likelihood(np.asarray(params, dtype=float))


class _Spends:
    """Repeat buyers' (x, m_x) prepared for the optimiser."""

    def __init__(self, x, m_x, weights):
        self.x, self.m_x, self.weights = (np.asarray(v, dtype=float) for v in (x, m_x, weights))
        self.total = self.weights.sum()
        self.log_m_x, self.log_x = np.log(self.m_x), np.log(self.x)
        self.spent = self.x * self.m_x

    def log_likelihood(self, params) -> float:
        p, q, gamma = params
        px = p * self.x
        value = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
                 + q * np.log(gamma) + (px - 1) * self.log_m_x + px * self.log_x
                 - (px + q) * np.log(gamma + self.spent))
        return _weighted_sum(self.weights, value)

    def loss(self, log_params):
        """(-mean log-likelihood, its gradient) in the logs of the parameters."""
        p, q, gamma = params = np.exp(log_params)
        value = self.log_likelihood(params)
        if not np.isfinite(value):
            return np.inf, np.zeros(3)
        px = p * self.x
        psi_all = special.digamma(px + q)
        log_rest = np.log(gamma + self.spent)
        d_p = self.x * (psi_all - special.digamma(px) + self.log_m_x + self.log_x - log_rest)
        d_q = psi_all - special.digamma(q) + np.log(gamma) - log_rest
        d_gamma = q / gamma - (px + q) / (gamma + self.spent)
        gradient = np.array([_weighted_sum(self.weights, d) for d in (d_p, d_q, d_gamma)])
        return -value / self.total, -gradient * params / self.total


def gamma_gamma_fit(x, m_x, weights, *, start=(1.0, 1.0, 1.0)) -> GammaGamma:
    """Maximum-likelihood (p, q, gamma) from customers with x > 0 and m_x > 0."""
    return GammaGamma(*_minimise(_Spends(x, m_x, weights).loss, np.log(start)))


def expected_spend(model: GammaGamma, x, m_x) -> np.ndarray:
    """E[spend per purchase | x, m_x]: the customer's mean pulled towards the population's
    by how little we have seen (equation (5) of the note); the population mean for x = 0."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    p, q, gamma = model.p, model.q, model.gamma
    with np.errstate(invalid="ignore", divide="ignore"):
        own = (gamma + m_x * x) * p / (p * x + q - 1)
    return np.where(x > 0, own, model.population_mean)


def _weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    # Not np.dot: multithreaded BLAS on one vector is slower on a busy two-core machine.
    return float(np.sum(weights * values))


# --- the optimiser -----------------------------------------------------------------------------

# The loss is a mean log-likelihood per customer: a slope this small in every log-parameter is
# an optimum to the precision the data carries.
STATIONARY_SLOPE = 1e-5


def _stationary(result) -> bool:
    """BFGS that stopped for "precision loss" where the surface is flat (a parameter near its
    boundary, as when hardly anyone drops out) has still found the optimum."""
    return bool(np.isfinite(result.fun) and np.all(np.abs(result.jac) < STATIONARY_SLOPE))


def _minimise(loss, start: np.ndarray) -> np.ndarray:
    """BFGS on the analytic gradient over the logs of the parameters (so they stay positive);
    where it stalls, Nelder-Mead first and BFGS again from there. FitError unless the
    optimum is finite and stationary."""
    best = optimize.minimize(loss, start, jac=True, method="BFGS", options={"gtol": 1e-8})
    if not best.success and not _stationary(best):
        rough = optimize.minimize(lambda v: loss(v)[0], start, method="Nelder-Mead",
                                  options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10})
        again = optimize.minimize(loss, rough.x, jac=True, method="BFGS",
                                  options={"gtol": 1e-8})
        best = min([best, rough, again], key=lambda result: result.fun)
    if not np.isfinite(best.fun) or not np.all(np.isfinite(best.x)) \
            or np.any(np.abs(best.x) > 30):  # e^30: a parameter running off to infinity
        raise FitError(f"the likelihood has no finite maximum here ({best.message})")
    return np.exp(best.x)
