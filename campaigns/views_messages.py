"""Operator pages for message templates (a list by channel; an editor with a live preview
for a chosen customer and a test send) and webhook endpoints (admins). The preview and the
test send call the services behind the API's preview and test-send (campaigns.services.
messages), so what the page shows is what a customer would get."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns.forms import (
    MessageTemplateForm,
    TemplatePreviewForm,
    TestSendForm,
    WebhookEndpointForm,
)
from campaigns.models import Channel, MessageTemplate, WebhookEndpoint
from campaigns.services.messages import (
    InUse,
    Invalid,
    template_check,
    template_delete,
    template_preview,
    template_save,
    template_test_send,
    webhook_endpoint_delete,
    webhook_endpoint_save,
)
from customers.models import Customer
from customers.roles import Role, has_role, role_required

TEMPLATES_PER_PAGE = 25
ENDPOINTS_PER_PAGE = 25
CUSTOMER_CHOICES = 10


@role_required(Role.VIEWER)
def template_list(request):
    channel = request.GET.get("channel", "")
    templates = MessageTemplate.objects.order_by("name")
    if channel in Channel.values:
        templates = templates.filter(channel=channel)
    else:
        channel = ""
    page = Paginator(templates, TEMPLATES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "campaigns/messages/list.html", {
        "page": page, "channel": channel, "channels": Channel.choices,
        "channel_query": urlencode({"channel": channel}) if channel else "",
        "can_edit": has_role(request.user, Role.MARKETER)})


def _editor(request, template: MessageTemplate | None) -> HttpResponse:
    can_edit = has_role(request.user, Role.MARKETER)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied(_("Changing a template needs the Marketer role."))
    form = MessageTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        saved = _save(form, template)
        if saved is not None:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
            return redirect("template-edit", pk=saved.pk)
    if not can_edit:  # read-only, yet still posted to the live preview (disabled is not)
        for name, field in form.fields.items():
            field.widget.attrs.update({"readonly": True} if name != "channel"
                                      else {"disabled": True})
    return render(request, "campaigns/messages/editor.html", {
        "form": form, "template": template, "can_edit": can_edit,
        "test_form": TestSendForm(),
        "preview_languages": [("", _("The customer's own")), *_languages(template)],
    }, status=400 if request.method == "POST" else 200)


def _languages(template: MessageTemplate | None) -> list[tuple[str, str]]:
    codes = dict(settings.LANGUAGES)
    for code in (template.translations or {}) if template else {}:
        codes.setdefault(code, code)
    return [(code, str(name)) for code, name in codes.items()]


def _save(form: MessageTemplateForm, template: MessageTemplate | None
          ) -> MessageTemplate | None:
    fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
    with transaction.atomic():
        if form.changed_elsewhere():
            form.add_error(None, _(
                "Not saved: this template was changed elsewhere (another operator or tab) "
                "since you opened it. Reload the page to see that version, then redo your "
                "change."))
            return None
        try:
            return template_save(template or MessageTemplate(), **fields)
        except Invalid as exc:  # the form ran the same checks; a race is all that is left
            for field, message in exc.problems:
                form.add_error(field if field in form.fields else None, message)
            return None


@role_required(Role.VIEWER)
def template_edit(request, pk: int):
    return _editor(request, get_object_or_404(MessageTemplate, pk=pk))


@role_required(Role.MARKETER)
def template_new(request):
    return _editor(request, None)


def _preview_customer(external_id: str) -> tuple[Customer | None, str]:
    if not external_id:
        return None, ""
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        return None, _("No customer with external id “%(id)s”: showing a sample customer.") \
            % {"id": external_id}
    return customer, ""


@role_required(Role.VIEWER)  # it reads only, as the API's preview
@require_POST
def template_preview_fragment(request):
    """The editor's live preview (htmx, debounced): the unsaved fields rendered for the
    chosen customer, or the problems that stop them rendering."""
    form = TemplatePreviewForm(request.POST)
    context = {"problems": [], "notice": ""}
    if not form.is_valid():
        context["problems"] = [(name, " ".join(errors)) for name, errors in form.errors.items()]
        return render(request, "campaigns/messages/_preview.html", context)
    data = form.cleaned_data
    draft = MessageTemplate(channel=data["channel"], subject=data["subject"], body=data["body"])
    customer, context["notice"] = _preview_customer(data["customer_external_id"].strip())
    try:
        template_check(draft, translations=data["translations"])
        rendered = template_preview(draft, customer=customer,
                                    language=data["language"] or None)
    except Invalid as exc:
        context["problems"] = exc.problems
    except Exception as exc:  # fails for this customer's values: the send would record
        context["problems"] = [("", f"{type(exc).__name__}: {exc}")]  # render_error
    else:
        context.update(rendered=rendered, channel=data["channel"], customer=customer)
    return render(request, "campaigns/messages/_preview.html", context)


@role_required(Role.VIEWER)
@require_GET
def customer_options(request):
    """<option>s for the preview's customer picker: external ids starting with what was
    typed, at most ten."""
    query = request.GET.get("customer_external_id", "").strip()
    # A range on the unique index, in its order; startswith keeps the answer exact where the
    # range is wider than the prefix (SQLite's LIKE ignores case).
    customers = Customer.objects.filter(
        external_id__gte=query, external_id__lt=query + "\U0010ffff",
        external_id__startswith=query).order_by("external_id")[:CUSTOMER_CHOICES] \
        if query else []
    return render(request, "campaigns/messages/_customer_options.html",
                  {"customers": customers})


@role_required(Role.MARKETER)
@require_POST
def template_test_send_view(request, pk: int):
    template = get_object_or_404(MessageTemplate, pk=pk)
    form = TestSendForm(request.POST)
    context = {"problems": [], "delivery": None}
    if not form.is_valid():
        context["problems"] = [(name, " ".join(errors)) for name, errors in form.errors.items()]
        return render(request, "campaigns/messages/_test_send.html", context, status=400)
    data = form.cleaned_data
    external_id = data["customer_external_id"].strip()
    customer = Customer.objects.filter(external_id=external_id).first() if external_id else None
    if external_id and customer is None:
        context["problems"] = [("customer_external_id", _("No customer with external id "
                                                          "“%(id)s”.") % {"id": external_id})]
        return render(request, "campaigns/messages/_test_send.html", context, status=400)
    try:
        context["delivery"] = template_test_send(template, address=data["address"].strip(),
                                                 customer=customer, webhook=data["webhook"])
    except Invalid as exc:
        context["problems"] = exc.problems
        return render(request, "campaigns/messages/_test_send.html", context, status=400)
    return render(request, "campaigns/messages/_test_send.html", context)


@role_required(Role.ADMIN)
def webhook_list(request):
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        created = webhook_endpoint_save(WebhookEndpoint(), **fields)
        form = WebhookEndpointForm()
    page = Paginator(WebhookEndpoint.objects.order_by("name"), ENDPOINTS_PER_PAGE) \
        .get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" and created is None else 200
    # The secret is in this answer only: it is not kept anywhere the page could show again.
    return render(request, "campaigns/messages/webhooks.html",
                  {"form": form, "page": page, "created": created}, status=status)


def _removed(request, name: str, delete, deleted: str) -> bool:
    """Run `delete()`; tell the operator it was deleted, or why it was kept. Whether it went."""
    try:
        delete()
    except InUse as exc:
        messages.error(request, _("“%(name)s” was not deleted: %(reason)s.")
                       % {"name": name, "reason": exc})
        return False
    messages.success(request, deleted)
    return True


@role_required(Role.MARKETER)
@require_POST
def template_remove(request, pk: int):
    """Delete a template no campaign refers to and no message was sent with (the API's rule);
    otherwise say why and keep it."""
    template = get_object_or_404(MessageTemplate, pk=pk)
    if _removed(request, template.name, lambda: template_delete(template),
                _("Template “%(name)s” deleted.") % {"name": template.name}):
        return redirect("template-list")
    return redirect("template-edit", pk=pk)


@role_required(Role.ADMIN)
@require_POST
def webhook_remove(request, pk: int):
    """Delete an endpoint no campaign calls and no message went to (the API's rule);
    otherwise say why and keep it (deactivating it stops the calls)."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    _removed(request, endpoint.name, lambda: webhook_endpoint_delete(endpoint),
             _("Webhook endpoint “%(name)s” deleted.") % {"name": endpoint.name})
    return redirect("webhook-list")


@role_required(Role.ADMIN)
@require_POST
def webhook_toggle(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    webhook_endpoint_save(endpoint, is_active=not endpoint.is_active)
    messages.success(request, _("Webhook endpoint “%(name)s” is now %(state)s.") % {
        "name": endpoint.name,
        "state": _("active") if endpoint.is_active else _("inactive")})
    return redirect("webhook-list")
