"""The admin form of a journey: the definition is validated on save, errors on the form."""

from __future__ import annotations

from django import forms

from journeys.conditions import DefinitionError
from journeys.definitions import parse_definition
from journeys.models import DEFINITION_FIELDS, Journey


class JourneyForm(forms.ModelForm):
    class Meta:
        model = Journey
        fields = ["project", "key", *DEFINITION_FIELDS]

    def clean(self):
        cleaned = super().clean()
        try:
            parse_definition(
                key=cleaned.get("key", self.instance.key),  # read-only once created
                entry=cleaned.get("entry") if cleaned.get("entry") is not None else [],
                steps=cleaned.get("steps"),
                exit=cleaned.get("exit") if cleaned.get("exit") is not None else [],
                timeout_minutes=cleaned.get("timeout_minutes"),
            )
        except DefinitionError as exc:
            for error in exc.errors:
                field = error.split("[", 1)[0].split(".", 1)[0].split(":", 1)[0]
                target = field if field in self.fields else None
                self.add_error(target, error)
        return cleaned
