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


class ActionItemForm(forms.ModelForm):
    owner = UserChoiceField(queryset=staff_users())

    class Meta:
        model = ActionItem
        fields = ["title", "category", "owner", "due_at", "description", "implementation_timeline", "success_metric"]
        help_texts = {"due_at": local_time_help()}
        widgets = {
            "due_at": DateTimeLocalInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "implementation_timeline": forms.Textarea(attrs={"rows": 3}),
            "success_metric": forms.Textarea(attrs={"rows": 2}),
        }


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    deferred_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
