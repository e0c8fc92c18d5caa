// Django's JavaScript catalog (/jsi18n/, loaded by base.html before the islands): the islands
// translate through it, so `makemessages -d djangojs` finds their strings.

export function gettext(text) {
  return typeof window !== "undefined" && window.gettext ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof window !== "undefined" && window.ngettext) {
    return window.ngettext(singular, plural, count);
  }
  return count === 1 ? singular : plural;
}

// interpolate("%(n)s nodes", {n: 3}) like Django's.
export function interpolate(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_match, name) => String(values[name] ?? ""));
}

export function language() {
  return (typeof document !== "undefined" && document.documentElement.lang) || "en";
}

// Numbers and money in the page's language and the shop's currency.
export function formatNumber(value, options = {}) {
  if (value === null || value === undefined || value === "") return "–";
  return new Intl.NumberFormat(language(), options).format(Number(value));
}

export function formatMoney(value, currency) {
  return formatNumber(value, currency ? { style: "currency", currency } : {});
}
