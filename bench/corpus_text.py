"""Words for the synthetic benchmark corpora.

Sentence templates in four registers, so the rules have real work to do:

* ``business``: projects, schedules, deliverables, invoices, reviews;
* ``social``: drinks, dinner, football, birthdays;
* ``neutral``: small talk that is neither;
* ``mixed``: one sentence that is both (the ~2% a rule should flag when a client is there).

:func:`build_pool` expands the templates once into wrapped paragraphs (plain text and
HTML), so writing 100,000 messages costs a few random choices per message, not a few
hundred. Everything is driven by the ``random.Random`` handed in: same seed, same words.
"""

from __future__ import annotations

import html
import random
import textwrap
from dataclasses import dataclass

REGISTERS = ("business", "social", "neutral")

PROJECTS = (
    "website redesign", "brand refresh", "Q3 audit", "annual accounts", "tax return",
    "lease review", "data migration", "supplier contract", "hiring plan", "product launch",
    "board pack", "pricing study", "office move", "grant application", "CRM rollout",
    "due diligence", "trademark filing", "payroll review", "marketing plan", "app release",
)
DELIVERABLES = (
    "draft report", "statement of work", "project plan", "budget", "proposal",
    "status report", "slide deck", "risk register", "timeline", "design mock-ups",
    "engagement letter", "contract", "estimate", "invoice", "minutes",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIMES = ("9:30", "10:00", "11:00", "12:30", "14:00", "15:30", "16:00", "17:00")
PLACES = ("Lisbon", "the Lakes", "Cornwall", "Barcelona", "Skye", "Rome", "Dorset")
PUBS = ("Crown", "Red Lion", "Anchor", "George", "Lamb and Flag", "Royal Oak")
TEAMS = ("Arsenal", "Spurs", "Chelsea", "Fulham", "Brentford", "Palace", "West Ham")

BUSINESS = (
    "Please find attached the revised {deliverable} for the {project}.",
    "Could we move the {project} review to {day} at {time}?",
    "Invoice {invoice} for {amount} is now overdue; could you check with accounts?",
    "The deadline for the {deliverable} is the end of the month, so we need comments by {day}.",
    "I have updated the schedule for the {project} and flagged two risks in the status report.",
    "Our proposal covers scope, fees and milestones for phase {n} of the {project}.",
    "Can you confirm the budget before we sign the statement of work?",
    "The contract renewal for the {project} is due at the end of the quarter.",
    "Let me know if the estimate works and I will send the engagement letter.",
    "We agreed the agenda for the steering committee: progress, risks and next steps.",
    "Based on the figures you sent, the forecast is about {n}0 percent above plan.",
    "The review of the {deliverable} went well; there are a few edits to the timeline.",
    "I will bill the extra hours against the retainer unless you object.",
    "Attached are the minutes from the {project} kickoff meeting on {day}.",
    "We still need sign-off on the {deliverable} before the next milestone.",
    "Accounts have raised invoice {invoice}; payment terms are thirty days.",
    "Can we schedule a call on {day} to go through the {project} deliverables?",
    "The {project} is on track, although the {deliverable} slipped by a week.",
    "Please review the change request and let me know if the fees are acceptable.",
    "I have shared the {deliverable} in the project folder for your review.",
)
SOCIAL = (
    "Are you free for drinks on {day} after work?",
    "Happy birthday! Hope you have a great day with the family.",
    "Did you watch the football on Saturday? {team} deserved that win.",
    "We are having a barbecue at ours on {day}; bring the kids.",
    "Thanks for dinner last night, the risotto was amazing.",
    "Fancy a round of golf at the weekend?",
    "The wedding photos are up online, have a look when you can.",
    "How was the holiday in {place}? The pictures looked wonderful.",
    "Let's grab a pint at the {pub} on {day}.",
    "Good luck in the half marathon on Sunday!",
    "We should get the families together for lunch sometime soon.",
    "Congratulations on the new baby, such lovely news.",
    "Are you coming to the quiz night at the {pub}? We need a sports expert.",
    "I have two tickets for {team} on {day} if you fancy it.",
    "Hope the new puppy is settling in and letting you sleep.",
)
NEUTRAL = (
    "Thanks for getting back to me so quickly.",
    "Hope you are well.",
    "Let me know what you think.",
    "I will be out of the office on {day}.",
    "Apologies for the slow reply, it has been a busy week.",
    "Sounds good to me.",
    "Speak soon.",
    "From next week I will be working at the new office on {day}s.",
    "I am travelling on {day} but will check my email in the evening.",
)
MIXED = (
    "Shall we go through the {deliverable} over dinner on {day}? My treat.",
    "Let's discuss the invoice for the {project} at the match on Saturday.",
    "Bring the contract to the barbecue and we can sign it there.",
    "While we are at drinks on {day}, could you give me some quick advice on the {project}? "
    "No need to bill it.",
    "Could we squeeze in the {project} review at your birthday party?",
    "Happy birthday! Also, any chance of a quick look at our tax return as a favour?",
    "Over a pint at the {pub} we can settle the fees for the {project}.",
    "Golf on Sunday, and we can talk through the {deliverable} on the back nine.",
)
LATIN1 = (
    "Merci pour le café, à bientôt.",
    "Schöne Grüße aus München.",
    "The meeting is at the Café Müller on {day}.",
    "Señor Pérez sends his regards.",
    "Ça va? Hope the move went smoothly.",
    "The fee is £{amount} plus VAT.",
    "Smørrebrød at the Danish place again?",
)
UTF8_ONLY = (
    "The fee is €{amount} plus VAT.",
    "Thanks — that’s really helpful.",
    "Looking forward to it 🎉",
    "“Final” version attached, promise.",
    "Dziękuję za spotkanie w Łodzi.",
    "日程を確認します。",
)
SUBJECTS = {
    "business": (
        "{Project}: revised timeline", "Invoice {invoice}", "{Project} - next steps",
        "Agenda for {day}", "Draft {deliverable}", "Quick question about the {project}",
        "{Project} status report", "Updated {deliverable} for review", "Fees for phase {n}",
    ),
    "social": (
        "Drinks on {day}?", "Happy birthday!", "Football on Saturday", "Dinner",
        "Photos from the weekend", "Quiz night", "Barbecue at ours",
    ),
    "neutral": ("Quick question", "Following up", "Hello", "Checking in"),
    "mixed": (
        "Dinner + {project} catch-up", "Drinks and a quick contract question",
        "Birthday drinks (and the invoice)", "Golf and the {deliverable}",
    ),
}
SIGNOFFS = ("Best", "Thanks", "Cheers", "Kind regards", "All the best", "Many thanks")


@dataclass(frozen=True, slots=True)
class Para:
    """One paragraph, already wrapped for plain text and escaped for HTML."""

    text: str
    html: str


def fill(rng: random.Random, template: str) -> str:
    """Fill a template's slots with random words."""
    project = rng.choice(PROJECTS)
    return template.format(
        project=project,
        Project=project[0].upper() + project[1:],
        deliverable=rng.choice(DELIVERABLES),
        day=rng.choice(DAYS),
        time=rng.choice(TIMES),
        invoice=f"INV-{rng.randrange(1000, 9999)}",
        amount=f"{rng.randrange(4, 400) * 25:,}",
        n=rng.randrange(1, 9),
        place=rng.choice(PLACES),
        pub=rng.choice(PUBS),
        team=rng.choice(TEAMS),
    )


def make_para(text: str) -> Para:
    """Wrap a paragraph at 72 columns and escape it for HTML."""
    return Para(textwrap.fill(text, 72), html.escape(text, quote=False))


def sentences(rng: random.Random, register: str, count: int) -> list[str]:
    """``count`` filled sentences of one register."""
    templates = {"business": BUSINESS, "social": SOCIAL, "neutral": NEUTRAL, "mixed": MIXED}
    chosen = rng.sample(templates[register], min(count, len(templates[register])))
    return [fill(rng, template) for template in chosen]


def build_pool(rng: random.Random, sizes: dict[str, int]) -> dict[str, tuple[Para, ...]]:
    """Paragraphs of 2-5 sentences for each register (``mixed`` ones are made per message)."""
    pool: dict[str, tuple[Para, ...]] = {}
    for register in REGISTERS:
        pool[register] = tuple(
            make_para(" ".join(sentences(rng, register, rng.randint(2, 5))))
            for _ in range(sizes[register])
        )
    return pool


def subject(rng: random.Random, register: str) -> str:
    return fill(rng, rng.choice(SUBJECTS[register]))


def foreign(rng: random.Random, charset: str) -> str:
    """A sentence with non-ASCII characters that ``charset`` can encode."""
    choices = LATIN1 if charset == "iso-8859-1" else LATIN1 + UTF8_ONLY
    return fill(rng, rng.choice(choices))
