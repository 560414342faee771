from django import forms
from django.contrib.auth import get_user_model

from incidents.forms import DateTimeLocalInput, local_time_help
from incidents.models import Contact
from portal.display import person_name

from .models import ActionItem, PostMortem


def staff_users():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class UserChoiceMixin:
    def label_from_instance(self, obj):
        return person_name(obj)


class UserChoiceField(UserChoiceMixin, forms.ModelChoiceField):
    pass


class UserMultipleChoiceField(UserChoiceMixin, forms.ModelMultipleChoiceField):
    pass


class PostMortemForm(forms.ModelForm):
    owner = UserChoiceField(queryset=staff_users(), required=False)
    participants = UserMultipleChoiceField(queryset=staff_users(), required=False)
    contact_participants = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.filter(is_active=True), required=False, label="Stakeholder contacts"
    )

    class Meta:
        model = PostMortem
        fields = ["owner", "participants", "contact_participants", *PostMortem.DELIVERABLE_FIELDS]
        widgets = {name: forms.Textarea(attrs={"rows": 5}) for name in PostMortem.DELIVERABLE_FIELDS}


class MeetingForm(forms.Form):
    meeting_held_at = forms.DateTimeField(label="Held at", widget=DateTimeLocalInput(), help_text=local_time_help())
    attendees = UserMultipleChoiceField(queryset=staff_users())
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MilestoneForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


# Long enough for any note a person writes (and a pasted log excerpt); a megabyte pasted by mistake is refused.
NOTE_MAX = 10_000


class ActionItemForm(forms.ModelForm):
    owner = UserChoiceField(queryset=staff_users())

    class Meta:
        model = ActionItem
        fields = [
            "title",
            "category",
            "owner",
            "due_at",
            "verify_by",
            "description",
            "implementation_timeline",
            "success_metric",
        ]
        labels = {"category": "Kind"}
        help_texts = {
            "due_at": local_time_help(),
            "verify_by": local_time_help(
                "Preventive measures: when someone other than the owner should have "
                "checked that it worked. Not before the due time."
            ),
            "success_metric": "How we will know it worked. Required for a preventive measure.",
        }
        widgets = {
            "due_at": DateTimeLocalInput(),
            "verify_by": DateTimeLocalInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "implementation_timeline": forms.Textarea(attrs={"rows": 3}),
            "success_metric": forms.Textarea(attrs={"rows": 2}),
        }

    def clean(self):
        return check_preventive_fields(self, super().clean())


def check_preventive_fields(form, data: dict) -> dict:
    """A preventive measure needs a success metric and a verify-by time, not before its due time; a done
    item stays in or out of the preventive measures. Said by field (the services check the same)."""
    instance = form.instance
    category = data.get("category", instance.category)
    if category == ActionItem.Category.PREVENTIVE:
        metric = data.get("success_metric", instance.success_metric)
        if "success_metric" not in form.errors and not (metric or "").strip():
            form.add_error(
                "success_metric", "A preventive measure needs a success metric: how you will know it worked."
            )
        if "verify_by" not in form.errors and data.get("verify_by", instance.verify_by) is None:
            form.add_error("verify_by", "A preventive measure needs a verify-by time.")
    due, verify_by = data.get("due_at"), data.get("verify_by")
    if due and verify_by and verify_by < due and "verify_by" not in form.errors:
        form.add_error("verify_by", "The verify-by time cannot be before the due time.")
    if (
        instance.pk
        and "category" in data
        and (data["category"] == ActionItem.Category.PREVENTIVE) != instance.is_preventive
        and instance.status in (ActionItem.Status.TO_VERIFY, ActionItem.Status.DONE)
    ):
        form.add_error("category", "A done item cannot move into or out of the preventive measures; reopen it first.")
    return data


class ActionItemStatusForm(forms.Form):
    # "Done" on a preventive measure leads to "Done, awaiting verification": it is not chosen directly.
    status = forms.ChoiceField(choices=[c for c in ActionItem.Status.choices if c[0] != ActionItem.Status.TO_VERIFY])
    deferred_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=NOTE_MAX)
    evidence = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to mark a preventive measure done: what shows it is done, as a note or a link "
        "(http or https). It then awaits verification by someone else.",
    )


class VerifyForm(forms.Form):
    note = forms.CharField(
        label="Verification note",
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you checked against the success metric.",
    )


class SendBackForm(forms.Form):
    reason = forms.CharField(
        label="Why it is sent back",
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="It goes back to its owner, in progress; the evidence is kept.",
    )
