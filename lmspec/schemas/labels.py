"""Model-based labels: what `llm_label` asks a language model, how its answer becomes a score, and how
`train_classifier` turns such a score into classes.

The named prompts are data, not code: a step that names one hashes the name, so changing a prompt's text
here must come with a bump of `LlmLabel.implementation` (the labels it produces change).
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import Field, StringConstraints

from lmspec.schemas.base import Problems, Ref, SpecModel

ModelRefOrPath = Annotated[str, StringConstraints(min_length=1), Ref(("model",), paths=True)]
"""`"@step"` producing a model checkpoint, or a local Hugging Face model directory."""
AttributeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]

TEXT_SLOT = "{text}"
"""Where a prompt template takes the document's text."""


class NamedPrompt(NamedTuple):
    """A prompt lmspec ships: its template and the label kind its question asks for."""

    template: str
    label: str


ASK_LLM = """###
{text}
###

Does the previous paragraph demarcated within ### and ### contain informative signal for pre-training a \
large-language model? An informative datapoint should be well-formatted, contain some usable knowledge of the \
world, and strictly NOT have any harmful, racist, sexist, etc. content.

OPTIONS:
- yes
- no

Answer:"""
"""Ask-LLM (Sachdeva et al. 2024, "How to Train Data-Efficient LLMs", figure 3), ending where the answer goes."""

FINEWEB_EDU = """Below is an extract from a web page. Evaluate whether the page has a high educational value and \
could be useful in an educational setting for teaching from primary school to grade school levels using the \
additive 5-point scoring system described below. Points are accumulated based on the satisfaction of each \
criterion:

- Add 1 point if the extract provides some basic information relevant to educational topics, even if it \
includes some irrelevant or non-academic content like advertisements and promotional material.
- Add another point if the extract addresses certain elements pertinent to education but does not align \
closely with educational standards.
- Award a third point if the extract is appropriate for educational use and introduces key concepts relevant \
to school curricula.
- Grant a fourth point if the extract is highly relevant and beneficial for educational purposes for a level \
not higher than grade school, exhibiting a clear and consistent writing style.
- Bestow a fifth point if the extract is outstanding in its educational value, perfectly suited for teaching \
either at primary school or grade school.

The extract:
{text}

After examining the extract, give the total score (0 to 5).
Educational score:"""
"""FineWeb-Edu's annotation prompt (Penedo et al. 2024, appendix), criteria shortened, asking for the score
alone (the original also asks for a justification, which a scored continuation does not need)."""

PROMPTS: dict[str, NamedPrompt] = {
    "ask_llm": NamedPrompt(ASK_LLM, "yes_probability"),
    "fineweb_edu": NamedPrompt(FINEWEB_EDU, "score"),
}


class YesProbability(SpecModel):
    """The probability of the answer `yes` against `no`, from the model's next-token distribution after the
    prompt: p(yes) / (p(yes) + p(no)), in [0, 1]."""

    kind: Literal["yes_probability"]

    @property
    def choices(self) -> tuple[str, ...]:
        return ("yes", "no")

    def value(self, probabilities: list[float]) -> float:
        return probabilities[0]


class ExpectedScore(SpecModel):
    """The expected value of a numeric answer: each choice's probability (renormalised over the choices)
    times its value, summed (FineWeb-Edu's 0-5 score as a continuous number)."""

    kind: Literal["score"]
    choices: list[Annotated[str, StringConstraints(min_length=1, max_length=20)]] = Field(
        default_factory=lambda: ["0", "1", "2", "3", "4", "5"], min_length=2, max_length=100
    )
    """The answers the model chooses among, each a number written as the model should write it."""

    def value(self, probabilities: list[float]) -> float:
        return sum(p * float(c) for p, c in zip(probabilities, self.choices, strict=True))

    def cross_field_errors(self) -> Problems:
        problems: Problems = []
        for i, choice in enumerate(self.choices):
            try:
                float(choice)
            except ValueError:
                problems.append(
                    (("choices", i), f"must be a number (the score is their expected value), got {choice!r}")
                )
        if not problems and len({float(c) for c in self.choices}) != len(self.choices):
            problems.append((("choices",), "lists the same value twice"))
        return problems


Label = Annotated[YesProbability | ExpectedScore, Field(discriminator="kind")]


def prompt_errors(prompt: str, label: YesProbability | ExpectedScore) -> Problems:
    """A prompt must be a named one or a template with a `{text}` slot; a named one asks for one label kind."""
    named = PROMPTS.get(prompt)
    if named is None:
        if TEXT_SLOT not in prompt:
            names = ", ".join(PROMPTS)
            return [(("prompt",), f"must be a named prompt ({names}) or a template containing {TEXT_SLOT}")]
        return []
    if named.label != label.kind:
        return [
            (
                ("label", "kind"),
                f'prompt `{prompt}` asks for a `{named.label}` answer; set label = {{ kind = "{named.label}" }}',
            )
        ]
    return []


def template(prompt: str) -> str:
    """The template a prompt field stands for: a named prompt's text, or the field itself."""
    named = PROMPTS.get(prompt)
    return named.template if named is not None else prompt


class AttributeLabel(SpecModel):
    """Classes from a score already on the documents (an `llm_label` step's): positive when the attribute is
    at least `threshold`, negative below it."""

    attribute: AttributeName
    """The document attribute holding the score, e.g. `llm_label`."""
    threshold: float
    """Documents whose attribute is >= this are positive examples; the others are negative."""
