"""Demo data: a school, its users and pupils whose dossiers span several school years.

The pupils' dossiers are written down as scripts (plain data below) and played through the
application service as the coach, so the demo obeys every domain rule a real user meets.
The school years are counted back from today, so the demo stays valid in later years: the
last school year of every script is the current one (or, during the first weeks of a school
year, the one before), and every date lies before today.

Dates in a script are (month, day) within the school year of the enrolment they belong to.
Where the current school year has not yet run far enough, its dates are moved closer to
1 August in proportion, so they keep their order and stay in the past.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from dossier.access import Actor
from dossier.application import Dossiers
from dossier.errors import AccountError
from dossier.vocabulary import PHASES, school_year_of, school_year_start
from projections.runtime import Services

DEMO_SCHOOL = "DEMO01"
DEMO_SCHOOL_NAME = "Het Loopbaan College"
OTHER_SCHOOL = "DEMO02"
OTHER_SCHOOL_NAME = "Scholengemeenschap De Overstap"

# A school year younger than this is too short for a year's story: the demo then ends in
# the school year before.
FRESH_YEAR = timedelta(days=42)

Day = tuple[int, int]
"""(month, day) within a school year: (10, 3) is 3 October, (2, 14) is 14 February."""

# Guiding questions per phase, after the wegwijzer loopbaangesprek.
QUESTIONS: Mapping[str, tuple[str, ...]] = {
    "terugkijken": (
        "Welke ervaring wil je met me delen? Vertel.",
        "Wat was je rol op dat moment?",
        "Wat werd er van je verwacht?",
    ),
    "reflecteren": (
        "Wat deed jij hierin heel goed?",
        "Hoe zou je dit inzicht op deze ervaring willen noemen?",
        "Heb je dit eerder meegemaakt?",
    ),
    "vooruitkijken": (
        "Wat wil je uitproberen of leren over je toekomstige vak, studie of werk?",
        "Wat is er nodig om een vervolgkeuze te maken?",
    ),
    "activeren": (
        "Hoe ga je contact leggen met degene die jou kan helpen?",
        "Waar kun je tegenaan lopen?",
        "Hoe kun jij dit oplossen?",
    ),
}


# The script language.


@dataclass(frozen=True)
class Experience:
    key: str
    kind: str
    title: str
    on: Day
    emotion: str
    story: str
    place: str | None = None


@dataclass(frozen=True)
class Insight:
    kind: str
    label: str
    about: tuple[str, ...]
    words: str | None = None


@dataclass(frozen=True)
class Action:
    key: str
    description: str
    due: Day
    helper: str | None = None
    obstacles: str | None = None


@dataclass(frozen=True)
class Conversation:
    """A loopbaangesprek; a phase left as None was not held."""

    on: Day
    about: tuple[str, ...]
    terugkijken: str | None
    reflecteren: str | None
    vooruitkijken: str | None
    activeren: str | None
    insights: tuple[Insight, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Complete:
    action: str
    outcome: str


@dataclass(frozen=True)
class Abandon:
    action: str
    reason: str


@dataclass(frozen=True)
class Correct:
    entry: str
    changes: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class Retract:
    entry: str
    reason: str


Step = Experience | Conversation | Complete | Abandon | Correct | Retract


@dataclass(frozen=True)
class Year:
    """One enrolment and what happened in it; `years_ago` counts back from the last year."""

    years_ago: int
    sector: str
    grade: int
    steps: tuple[Step, ...]

    def days(self) -> list[Day]:
        found: list[Day] = []
        for step in self.steps:
            if isinstance(step, Experience):
                found.append(step.on)
            elif isinstance(step, Conversation):
                found += [step.on, *(action.due for action in step.actions)]
        return found


@dataclass(frozen=True)
class PupilScript:
    name: str
    external_ref: str
    years: tuple[Year, ...]


@dataclass(frozen=True)
class DemoInfo:
    """What the demo created: the school, a token per role, and the pupils' ids."""

    school: str
    tokens: dict[str, str]
    pupil_ids: tuple[UUID, ...]
    other_tokens: dict[str, str]
    other_pupil_ids: tuple[UUID, ...]


# The pupils of Het Loopbaan College.

SANNE = PupilScript(
    name="Sanne Vermeulen",
    external_ref="LL-1047",
    years=(
        Year(
            years_ago=3,
            sector="vmbo",
            grade=1,
            steps=(
                Experience(
                    key="poster",
                    kind="opdracht",
                    title="Beroepenposter over de kapper",
                    on=(10, 6),
                    emotion="positive",
                    place="Mentorles, lokaal 1.12",
                    story=(
                        "We moesten in groepjes van drie een poster maken over een beroep. Wij "
                        "kozen kapper, omdat mijn tante kapster is. Ik zocht de plaatjes uit en "
                        "Mila en Bram schreven de tekst. Toen Bram ziek was heb ik zijn stuk "
                        "afgemaakt. Bij het presenteren was ik zenuwachtig, maar we kregen een 8. "
                        "Ik was trots dat het met z'n drieën zo goed ging."
                    ),
                ),
                Conversation(
                    on=(10, 20),
                    about=("poster",),
                    terugkijken=(
                        "Sanne vertelt over de beroepenposter. Ze koos zelf het onderwerp kapper, "
                        "vanwege haar tante. Haar rol: plaatjes zoeken, en het stuk van Bram "
                        "afmaken toen hij ziek was."
                    ),
                    reflecteren=(
                        "Wat ging goed? 'We hebben alles eerlijk verdeeld en ik heb Bram "
                        "geholpen.' Ze noemt dat zelf samenwerken. Eerder meegemaakt? Bij "
                        "handbal regelt ze ook vaak wie wat doet."
                    ),
                    vooruitkijken=(
                        "Sanne wil weten wat een kapster de hele dag doet: 'Is het alleen "
                        "knippen?' Dat wil ze eerst vragen aan iemand die het echt doet."
                    ),
                    activeren=(
                        "Ze vraagt haar tante Ingrid of ze een paar vragen mag stellen. Waar ze "
                        "tegenaan kan lopen: ze durft het niet te vragen als de hele familie "
                        "erbij is. Oplossing: eerst een appje sturen."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "samenwerken",
                            ("poster",),
                            "We hebben het eerlijk verdeeld en ik heb Bram geholpen toen hij "
                            "ziek was.",
                        ),
                    ),
                    actions=(
                        Action(
                            key="tante",
                            description=(
                                "Tante Ingrid (kapster) vragen wat ze op een werkdag allemaal doet"
                            ),
                            due=(11, 30),
                            helper="Tante Ingrid, kapster",
                            obstacles="Durft het niet te vragen als de hele familie erbij is.",
                        ),
                    ),
                ),
                Complete(
                    "tante",
                    "Sanne heeft tante Ingrid geappt en een half uur met haar gebeld. Ze weet nu "
                    "dat een kapster ook veel met klanten praat, afspraken maakt en de kassa doet.",
                ),
            ),
        ),
        Year(
            years_ago=2,
            sector="vmbo",
            grade=2,
            steps=(
                Experience(
                    key="vlechten",
                    kind="praktijkles",
                    title="Praktijkles vlechten bij Zorg & Welzijn",
                    on=(11, 15),
                    emotion="positive",
                    place="Praktijklokaal Zorg & Welzijn",
                    story=(
                        "We moesten eerst op een oefenhoofd een vlecht maken en daarna bij een "
                        "klasgenoot. Ik deed het bij Yara en zij bij mij. Eerst lukte het niet, "
                        "mijn handen deden niet wat ik wilde. Toen liet Yara zien hoe zij het "
                        "deed en ging het beter. Aan het eind vroeg de docent of ik het aan twee "
                        "anderen wilde uitleggen. Dat vond ik leuk."
                    ),
                ),
                Experience(
                    key="interview",
                    kind="interview",
                    title="Interview met buurvrouw Petra, verzorgende IG",
                    on=(1, 24),
                    emotion="mixed",
                    place="Bij Petra thuis",
                    story=(
                        "Voor LOB moest ik iemand interviewen over haar werk. Ik koos onze "
                        "buurvrouw Petra, ze is verzorgende in een verpleeghuis. Ze vertelde dat "
                        "ze mensen wast en helpt met eten, en dat ze soms iemand troost die "
                        "verdrietig is. Dat vond ik mooi. Maar ze werkt ook in het weekend en 's "
                        "nachts, dat vond ik minder leuk om te horen. Ik had mijn vragen op een "
                        "blaadje, maar toen ze iets grappigs vertelde vergat ik ze bijna."
                    ),
                ),
                Conversation(
                    on=(2, 7),
                    about=("vlechten", "interview"),
                    terugkijken=(
                        "Twee ervaringen: de praktijkles vlechten en het interview met Petra. Bij "
                        "het vlechten was Sanne eerst leerling en daarna 'hulpdocent'. Bij het "
                        "interview stelde zij de vragen."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? 'Ik bleef rustig uitleggen tot ze het snapte.' "
                        "Bij het interview vond ze het mooiste dat Petra mensen helpt die het zelf "
                        "niet meer kunnen. Vergeleken met de poster van vorig jaar: ook toen hielp "
                        "ze iemand die achterliep. Ze noemt het zelf 'Samenwerking' en 'mensen "
                        "helpen'."
                    ),
                    vooruitkijken=(
                        "Sanne twijfelt tussen de kapper en de zorg. Ze wil allebei een keer van "
                        "dichtbij zien. Nodig: eerst een meeloopdag bij een kapsalon."
                    ),
                    activeren=(
                        "Ze vraagt de decaan, meneer Bakker, welke kapsalons een meeloopdag "
                        "aanbieden. Misschien zijn alle plekken al vol; dan vraagt ze tante "
                        "Ingrid of het bij haar salon kan."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "Samenwerking",
                            ("vlechten", "poster"),
                            "Yara liet zien hoe het moest en daarna hielp ik haar weer.",
                        ),
                        Insight(
                            "quality",
                            "geduld",
                            ("vlechten",),
                            "Ik bleef rustig uitleggen tot ze het snapte.",
                        ),
                        Insight(
                            "motive",
                            "mensen helpen",
                            ("interview", "vlechten"),
                            "Het mooiste vond ik dat Petra mensen helpt die het zelf niet meer "
                            "kunnen.",
                        ),
                    ),
                    actions=(
                        Action(
                            key="meeloop",
                            description=(
                                "Bij de decaan navragen welke kapsalons een meeloopdag aanbieden, "
                                "en je aanmelden"
                            ),
                            due=(3, 15),
                            helper="Meneer Bakker, decaan",
                            obstacles="Alle plekken kunnen al vol zijn; dan tante Ingrid vragen.",
                        ),
                    ),
                ),
                Complete(
                    "meeloop",
                    "Aangemeld voor een meeloopdag bij een kapsalon in het dorp, via de lijst van "
                    "de decaan. De dag is na de zomer.",
                ),
            ),
        ),
        Year(
            years_ago=1,
            sector="vmbo",
            grade=3,
            steps=(
                Experience(
                    key="kapper",
                    kind="meeloopdag",
                    title="Meeloopdag bij de kapper",
                    on=(10, 10),
                    emotion="positive",
                    place="Kapsalon Knipt, Dorpsstraat",
                    story=(
                        "Ik mocht een dag meelopen bij de kapper in de Dorpsstraat. Ik vond het "
                        "spannend, want ik kende daar niemand. Ik mocht haren wassen en de vloer "
                        "vegen, en een mevrouw vroeg of ik haar wilde föhnen. Dat deed ik samen "
                        "met Kim, de kapster. De mevrouw zei dat ik het goed deed. Maar ik stond "
                        "de hele dag, 's middags had ik zere voeten en het vegen werd saai."
                    ),
                ),
                Experience(
                    key="proefles",
                    kind="proefles",
                    title="Proefles Uiterlijke verzorging op het ROC",
                    on=(2, 12),
                    emotion="positive",
                    place="ROC De Horizon",
                    story=(
                        "Op het ROC kreeg ik een proefles bij de opleiding Uiterlijke verzorging. "
                        "We leerden bij elkaar een gezichtsmasker aanbrengen. De docent was "
                        "streng over hygiëne, alles moest eerst schoon. Ik werkte met een meisje "
                        "van een andere school en we hebben veel gelachen. Ik merkte dat ik het "
                        "leuker vind om met de klant te praten dan om heel precies te werken."
                    ),
                ),
                Conversation(
                    on=(2, 26),
                    about=("kapper", "proefles"),
                    terugkijken=(
                        "Sanne vertelt over de meeloopdag bij de kapper en de proefles op het "
                        "ROC. Bij de kapper was ze vooral hulpje: wassen, vegen, en föhnen samen "
                        "met Kim. Op het ROC was ze zelf aan de beurt."
                    ),
                    reflecteren=(
                        "Wat deed je goed? 'Ik durfde met de klant te praten en ik hielp Kim "
                        "zonder dat ze het hoefde te vragen.' Vergeleken met het vlechten en het "
                        "interview met Petra: steeds is het contact met mensen het leukst, niet "
                        "het haar zelf. Ze noemt het 'goed kunnen samenwerken' en 'behulpzaam'. "
                        "Minder: de hele dag staan en vegen; werk zonder contact houdt ze niet vol."
                    ),
                    vooruitkijken=(
                        "Sanne wil onderzoeken of de zorg beter bij haar past dan de kapper. Ze "
                        "wil in klas 4 stage lopen in een verpleeghuis."
                    ),
                    activeren=(
                        "Ze mailt verpleeghuis De Linde, waar Petra werkt, en vraagt of ze daar "
                        "stage mag lopen. Lastig: ze weet niet hoe je een nette mail schrijft. "
                        "Oplossing: de mentor kijkt de mail na voordat ze hem verstuurt."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "goed kunnen samenwerken",
                            ("kapper", "proefles", "vlechten"),
                            "Ik hielp Kim zonder dat ze het hoefde te vragen.",
                        ),
                        Insight(
                            "motive",
                            "behulpzaam",
                            ("kapper", "interview"),
                            "Ik zag gewoon wat Kim nodig had en pakte het alvast.",
                        ),
                        Insight(
                            "motive",
                            "contact met mensen",
                            ("kapper", "proefles", "interview"),
                            "Het leukste is het praten met de klant, niet het haar zelf.",
                        ),
                        Insight("interest", "zorg", ("interview", "proefles")),
                    ),
                    actions=(
                        Action(
                            key="stagemail",
                            description=(
                                "Verpleeghuis De Linde mailen met de vraag of Sanne in klas 4 "
                                "stage mag lopen"
                            ),
                            due=(4, 1),
                            helper="Buurvrouw Petra (verzorgende IG); de mentor kijkt de mail na",
                            obstacles="Weet niet hoe je een nette mail schrijft.",
                        ),
                    ),
                ),
                Correct(
                    "kapper",
                    {"place": "Kapsalon Het Knipatelier, Dorpsstraat", "emotion": "mixed"},
                    "Sanne gaf aan dat de salon anders heet, en dat ze de dag ook zwaar vond "
                    "(zere voeten, veel vegen): de emotie is gemengd.",
                ),
                Complete(
                    "stagemail",
                    "De mail is verstuurd en Petra heeft het ook doorgegeven: Sanne mag in klas 4 "
                    "drie weken stage lopen op de afdeling Zonnebloem.",
                ),
            ),
        ),
        Year(
            years_ago=0,
            sector="vmbo",
            grade=4,
            steps=(
                Experience(
                    key="stage",
                    kind="stage",
                    title="Stage in verpleeghuis De Linde",
                    on=(11, 14),
                    emotion="mixed",
                    place="Verpleeghuis De Linde, afdeling Zonnebloem",
                    story=(
                        "Ik liep drie weken stage op de afdeling Zonnebloem. Ik hielp bij het "
                        "ontbijt, zette koffie en maakte een praatje met de bewoners. Meneer De "
                        "Wit vertelde elke dag over zijn tijd op zee en ik vond het fijn dat hij "
                        "op mij wachtte. Op de tweede dag moest ik helpen bij het wassen van een "
                        "mevrouw. Dat vond ik heel eng en ik schaamde me. Mijn begeleider Anouk "
                        "zei dat dat in het begin normaal is. Aan het eind durfde ik het wel."
                    ),
                ),
                Experience(
                    key="opendag",
                    kind="open_dag",
                    title="Open dag ROC De Horizon: Zorg en welzijn",
                    on=(1, 24),
                    emotion="positive",
                    place="ROC De Horizon",
                    story=(
                        "Ik ging met mijn moeder naar de open dag. Bij Zorg en welzijn kon je een "
                        "pop verschonen en bloeddruk meten. Een studente vertelde dat ze in het "
                        "eerste jaar al stage loopt. Ik heb zelf gevraagd hoeveel stage je hebt "
                        "bij Verzorgende IG. Mijn moeder zei achteraf dat ze me nog nooit zo veel "
                        "vragen had horen stellen."
                    ),
                ),
                Conversation(
                    on=(2, 5),
                    about=("stage", "opendag"),
                    terugkijken=(
                        "Sanne vertelt over haar stage op de Zonnebloem en over de open dag. Haar "
                        "rol op stage: helpen bij het ontbijt, praten met bewoners en meehelpen "
                        "bij de verzorging."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? 'Ik ging door na die eerste keer wassen, en "
                        "meneer De Wit wachtte op mij.' Rode draad met de kapper en het interview "
                        "met Petra: mensen helpen en met ze praten geeft haar energie. Ze noemt "
                        "het zelf 'zorgzaam' en 'anderen helpen'. Samen met Anouk werken ging goed."
                    ),
                    vooruitkijken=(
                        "De keuze: Verzorgende IG of Helpende zorg en welzijn op het ROC. Nodig "
                        "om te kiezen: weten wat het verschil is in het werk en in de stages."
                    ),
                    activeren=(
                        "Sanne meldt zich aan voor een proefstudeerdag Verzorgende IG en mailt "
                        "zelf de opleiding. Waar ze tegenaan kan lopen: ze stelt het uit omdat ze "
                        "het spannend vindt. Afspraak: de mentor vraagt ernaar in de mentorles."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "zorgzaam",
                            ("stage",),
                            "Meneer De Wit wachtte elke ochtend op mij.",
                        ),
                        Insight(
                            "motive",
                            "anderen helpen",
                            ("stage", "interview", "kapper"),
                            "Als ik iemand kan helpen, ga ik met plezier naar huis.",
                        ),
                        Insight("quality", "teamwork", ("stage",), "Met Anouk ging alles samen."),
                        Insight(
                            "quality",
                            "durf",
                            ("stage", "kapper"),
                            "Na die eerste keer wassen ben ik gewoon doorgegaan.",
                        ),
                    ),
                    actions=(
                        Action(
                            key="proefstudeerdag",
                            description=(
                                "Aanmelden voor een proefstudeerdag Verzorgende IG bij ROC De "
                                "Horizon (zelf de opleiding mailen)"
                            ),
                            due=(3, 1),
                            helper="De mentor (vraagt ernaar); studentenbalie ROC De Horizon",
                            obstacles=(
                                "Stelt het uit, omdat ze het spannend vindt om zelf te mailen."
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
)

DAAN = PupilScript(
    name="Daan de Boer",
    external_ref="LL-2117",
    years=(
        Year(
            years_ago=2,
            sector="vmbo",
            grade=3,
            steps=(
                Experience(
                    key="garage",
                    kind="stage",
                    title="Snuffelstage bij Autobedrijf Hendriks",
                    on=(11, 8),
                    emotion="negative",
                    place="Autobedrijf Hendriks",
                    story=(
                        "Ik liep een week stage bij een garage. Ik dacht dat ik aan auto's mocht "
                        "sleutelen, maar ik moest vooral de werkplaats vegen en banden sorteren. "
                        "Niemand legde iets uit. Op donderdag mocht ik eindelijk met Sem, de "
                        "monteur, een wiel verwisselen. Dat was het enige leuke moment. Ik was "
                        "blij toen de week voorbij was."
                    ),
                ),
                Experience(
                    key="lassen",
                    kind="praktijkles",
                    title="Praktijkles lassen: een krukje maken",
                    on=(3, 20),
                    emotion="positive",
                    place="Techniekwerkplaats",
                    story=(
                        "In de werkplaats moesten we een krukje lassen van metalen buizen. Mijn "
                        "eerste lasnaad was lelijk, maar meneer Öztürk liet zien hoe je je hand "
                        "stil houdt. De tweede ging veel beter. Aan het eind stond mijn krukje "
                        "recht en mocht ik het mee naar huis nemen. Mijn vader gebruikt het nu in "
                        "de schuur."
                    ),
                ),
                Conversation(
                    on=(4, 3),
                    about=("garage", "lassen"),
                    terugkijken=(
                        "Daan vertelt eerst over de garage: 'Ik was gewoon de schoonmaker.' "
                        "Daarna over het krukje. Op stage werd verwacht dat hij meehielp in de "
                        "werkplaats; zelf had hij verwacht dat hij mocht sleutelen."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? Bij het lassen: 'Ik gaf niet op na die lelijke "
                        "naad.' De garage was negatief omdat hij niets mocht maken en niemand "
                        "uitleg gaf. Wat hem drijft: aan het eind zien wat hij gemaakt heeft."
                    ),
                    vooruitkijken=(
                        "Daan wil weten of installatietechniek iets voor hem is: 'Daar maak je "
                        "ook echt iets.' Nodig: een dag meelopen bij een installateur."
                    ),
                    activeren=(
                        "Zijn oom Rob werkt bij een installatiebedrijf; Daan belt hem zelf. Waar "
                        "hij tegenaan kan lopen: Rob werkt veel op locatie, dus het kan pas na de "
                        "zomer. Dat is goed, dan wordt het een meeloopdag in klas 4."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "handig met mijn handen",
                            ("lassen",),
                            "Mijn krukje stond recht.",
                        ),
                        Insight(
                            "quality",
                            "doorzetten",
                            ("lassen",),
                            "Ik gaf niet op na die lelijke lasnaad.",
                        ),
                        Insight(
                            "motive",
                            "iets maken",
                            ("lassen", "garage"),
                            "Bij de garage mocht ik niks maken, daarom vond ik het saai.",
                        ),
                    ),
                    actions=(
                        Action(
                            key="oom",
                            description=(
                                "Oom Rob bellen om een dag mee te lopen bij het installatiebedrijf"
                            ),
                            due=(6, 15),
                            helper="Oom Rob, monteur bij Installatiebedrijf Van Dijk",
                            obstacles="Rob werkt veel op locatie; het kan pas na de zomer.",
                        ),
                    ),
                ),
                Complete("oom", "Daan heeft oom Rob gebeld; de meeloopdag is in oktober."),
            ),
        ),
        Year(
            years_ago=1,
            sector="vmbo",
            grade=4,
            steps=(
                Experience(
                    key="installateur",
                    kind="meeloopdag",
                    title="Meeloopdag bij Installatiebedrijf Van Dijk",
                    on=(10, 12),
                    emotion="positive",
                    place="Nieuwbouwwijk De Akkers",
                    story=(
                        "Ik reed om zeven uur met oom Rob mee naar een nieuwbouwhuis. We legden "
                        "samen de leidingen voor een badkamer. Ik mocht buizen op maat zagen en "
                        "Rob controleerde ze. Ik had er één te kort gezaagd, dat vond ik stom. "
                        "Rob zei dat het hem ook vaak overkomt. 's Middags zat de badkamer erin "
                        "en dat gaf een goed gevoel. Ik was wel heel moe."
                    ),
                ),
                Experience(
                    key="roc-techniek",
                    kind="open_dag",
                    title="Open dag ROC De Horizon: Techniek",
                    on=(1, 17),
                    emotion="positive",
                    place="ROC De Horizon",
                    story=(
                        "Op de open dag ging ik naar installatietechniek en elektrotechniek. Bij "
                        "elektro moest je een schakeling maken met een lampje. Het lukte mij als "
                        "eerste van de groep, maar ik snapte niet goed waarom. Bij "
                        "installatietechniek herkende ik alles van de dag met oom Rob. Ik heb een "
                        "folder van Monteur installatietechniek meegenomen."
                    ),
                ),
                Conversation(
                    on=(1, 31),
                    about=("installateur", "roc-techniek"),
                    terugkijken=(
                        "Daan vertelt over de meeloopdag met oom Rob en over de open dag. Zijn "
                        "rol: meehelpen met de leidingen en buizen op maat zagen."
                    ),
                    reflecteren=(
                        "Wat ging goed? 'Samen met Rob de badkamer af krijgen.' Hij vergelijkt "
                        "het met het krukje van vorig jaar: ook nu wil hij aan het eind zien wat "
                        "hij gemaakt heeft. De te korte buis zat hem dwars; hij leert dat fouten "
                        "erbij horen. Hij noemt het 'samen werken' en 'technisch'."
                    ),
                    vooruitkijken=(
                        "Daan kiest tussen Monteur installatietechniek en Monteur elektrotechniek. "
                        "Hij wil ontdekken of hij elektro ook snapt, niet alleen kan."
                    ),
                    activeren=(
                        "Hij wil een bijbaan bij de fietsenmaker in het dorp, om meer te "
                        "sleutelen. Zijn moeder kent de eigenaar. Waar hij tegenaan kan lopen: "
                        "voetbaltraining op dinsdag en donderdag; alleen de zaterdag kan."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "samen werken",
                            ("installateur",),
                            "Rob en ik hadden de badkamer samen voor de middag af.",
                        ),
                        Insight(
                            "quality",
                            "technisch",
                            ("installateur", "roc-techniek", "lassen"),
                        ),
                        Insight(
                            "motive",
                            "resultaat zien",
                            ("installateur", "lassen"),
                            "Aan het eind van de dag zat de badkamer erin.",
                        ),
                        Insight("interest", "techniek", ("installateur", "roc-techniek")),
                    ),
                    actions=(
                        Action(
                            key="fietsenmaker",
                            description=(
                                "Bij Fietsenmaker Jansen vragen naar een bijbaan op zaterdag"
                            ),
                            due=(3, 1),
                            helper="De moeder van Daan, die de eigenaar kent",
                            obstacles=(
                                "Voetbaltraining op dinsdag en donderdag; alleen zaterdag kan."
                            ),
                        ),
                    ),
                ),
                Abandon(
                    "fietsenmaker",
                    "De fietsenmaker stopt met zijn winkel. Daan zoekt op het mbo een bijbaan in "
                    "de installatietechniek.",
                ),
            ),
        ),
        Year(
            years_ago=0,
            sector="mbo",
            grade=1,
            steps=(
                Experience(
                    key="bpv",
                    kind="stage",
                    title="BPV bij Installatiebedrijf Van Dijk",
                    on=(10, 20),
                    emotion="mixed",
                    place="Installatiebedrijf Van Dijk",
                    story=(
                        "Mijn eerste stage op het mbo is weer bij Van Dijk, maar nu met Esther als "
                        "begeleider, niet met mijn oom. Ik moest zelf een storing aan een cv-ketel "
                        "zoeken. De eerste keer wist ik het niet en belde ik Esther. Ze zei dat ik "
                        "eerst zelf het schema moest bekijken. De tweede keer vond ik het zelf: "
                        "een kapotte pomp. Dat voelde goed. Wel vind ik het lastig om bij klanten "
                        "thuis te komen, ik weet niet goed wat ik moet zeggen."
                    ),
                ),
                Experience(
                    key="werkvoorbereider",
                    kind="interview",
                    title="Interview met Marco, werkvoorbereider",
                    on=(11, 28),
                    emotion="neutral",
                    place="Kantoor Installatiebedrijf Van Dijk",
                    story=(
                        "Voor school heb ik Marco geïnterviewd, hij is werkvoorbereider. Hij zit "
                        "vooral achter de computer en maakt planningen voor de monteurs. Hij was "
                        "eerst tien jaar monteur. Ik vond het interessant om te horen, maar ik "
                        "wil niet de hele dag binnen zitten."
                    ),
                ),
                Conversation(
                    on=(12, 10),
                    about=("bpv", "werkvoorbereider"),
                    terugkijken=(
                        "Daan vertelt over de storing aan de cv-ketel en over het interview met "
                        "Marco. Verwacht werd dat hij eerst zelf zocht en pas daarna belde."
                    ),
                    reflecteren=(
                        "'Ik vond de storing zelf.' Vergeleken met het krukje en de badkamer: hij "
                        "wil het zelf uitzoeken en dan zien dat het werkt. Nieuw: praten met "
                        "klanten vindt hij lastig. Het interview laat zien dat hij niet binnen "
                        "wil werken. Hij noemt het 'zelfstandig' en 'niet binnen zitten'."
                    ),
                    vooruitkijken=(
                        "Daan wil beter worden in het praten met klanten. Hij wil afkijken hoe "
                        "Esther dat doet en het dan zelf proberen."
                    ),
                    activeren=(
                        "Bij de volgende klus vraagt hij Esther of hij het gesprek met de klant "
                        "mag beginnen. Waar hij tegenaan kan lopen: hij wordt zenuwachtig en "
                        "vergeet wat hij wil zeggen. Oplossing: vooraf drie zinnen bedenken."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "zelfstandig",
                            ("bpv", "lassen"),
                            "De tweede keer vond ik de storing zelf.",
                        ),
                        Insight(
                            "motive",
                            "niet binnen zitten",
                            ("werkvoorbereider", "installateur"),
                            "Achter de computer zitten is niks voor mij.",
                        ),
                    ),
                    actions=(
                        Action(
                            key="klantgesprek",
                            description=(
                                "Bij de volgende klus het gesprek met de klant beginnen, met drie "
                                "zinnen die hij vooraf bedenkt"
                            ),
                            due=(1, 31),
                            helper="Esther, praktijkbegeleider bij Van Dijk",
                            obstacles="Wordt zenuwachtig en vergeet wat hij wil zeggen.",
                        ),
                    ),
                ),
                Complete(
                    "klantgesprek",
                    "Gelukt bij een klant met een lekkende kraan. Tip van Esther: vertel ook hoe "
                    "lang de klus duurt.",
                ),
            ),
        ),
    ),
)

FATIMA = PupilScript(
    name="Fatima El Amrani",
    external_ref="LL-3390",
    years=(
        Year(
            years_ago=1,
            sector="havo",
            grade=4,
            steps=(
                Experience(
                    key="bijles",
                    kind="opdracht",
                    title="Project 'leerlingen helpen leerlingen': bijles wiskunde",
                    on=(10, 30),
                    emotion="positive",
                    place="Studieruimte",
                    story=(
                        "Voor het project 'leerlingen helpen leerlingen' gaf ik zes weken bijles "
                        "wiskunde aan twee brugklassers. Youssef snapte breuken niet en werd boos "
                        "als het niet lukte. Ik heb het uitgelegd met pizzapunten en toen snapte "
                        "hij het ineens. Daarna haalde hij een 7. Ik was echt blij, blijer dan "
                        "met mijn eigen cijfers."
                    ),
                ),
                Conversation(
                    on=(11, 13),
                    about=("bijles",),
                    terugkijken=(
                        "Fatima vertelt over de bijles aan Youssef. Haar rol: uitleggen, en rustig "
                        "blijven als hij boos werd."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? 'Ik bleef rustig en zocht een andere manier om "
                        "het uit te leggen.' Eerder meegemaakt? Thuis helpt ze haar broertje met "
                        "huiswerk. Ze noemt het 'Geduldig' en 'Behulpzaam'; ze wordt blijer van "
                        "andermans succes dan van haar eigen cijfers."
                    ),
                    vooruitkijken=(
                        "Ze wil weten of lesgeven iets voor haar is, en op welke school: "
                        "basisschool of middelbare school. Nodig: een proefles op de pabo."
                    ),
                    activeren=(
                        "Ze meldt zich aan via de website van de hogeschool; de decaan helpt met "
                        "de kalender van proeflessen. Lastig: de proefles valt onder schooltijd. "
                        "Oplossing: op tijd vrij vragen bij de teamleider."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "Geduldig",
                            ("bijles",),
                            "Ik bleef rustig toen Youssef boos werd.",
                        ),
                        Insight(
                            "motive",
                            "Behulpzaam",
                            ("bijles",),
                            "Ik was blijer met zijn 7 dan met mijn eigen cijfers.",
                        ),
                        Insight("interest", "lesgeven", ("bijles",)),
                    ),
                    actions=(
                        Action(
                            key="pabo",
                            description=(
                                "Aanmelden voor een proefles op de pabo en vrij vragen bij de "
                                "teamleider"
                            ),
                            due=(1, 15),
                            helper="Meneer Bakker, decaan",
                            obstacles="De proefles valt onder schooltijd.",
                        ),
                    ),
                ),
                Complete("pabo", "Aangemeld voor een proefles; de teamleider gaf vrij."),
                Experience(
                    key="proefles-pabo",
                    kind="proefles",
                    title="Proefles rekendidactiek op de pabo",
                    on=(2, 14),
                    emotion="mixed",
                    place="Hogeschool Het Baken",
                    story=(
                        "Ik volgde een proefles rekendidactiek. We moesten in groepjes een "
                        "rekenspel bedenken voor groep 4. In mijn groepje begon niemand, dus ik "
                        "heb de taken verdeeld. De docent zei dat ik goed kon uitleggen. Wel "
                        "schrok ik van hoeveel theorie er is; ik dacht dat het vooral met "
                        "kinderen spelen was."
                    ),
                ),
                Experience(
                    key="dubbel",
                    kind="proefles",
                    title="Proefles pabo",
                    on=(2, 14),
                    emotion="mixed",
                    story="Proefles op de pabo, rekenspel bedacht voor groep 4.",
                ),
                Retract(
                    "dubbel",
                    "Dubbel ingevoerd: dezelfde proefles staat er al in, met het hele verhaal.",
                ),
                Conversation(
                    on=(3, 6),
                    about=("proefles-pabo", "bijles"),
                    terugkijken=(
                        "Fatima vertelt over de proefles op de pabo. Toen niemand in haar groepje "
                        "begon, verdeelde zij de taken."
                    ),
                    reflecteren=(
                        "Wat ging goed? Uitleggen en het groepje op gang krijgen. Vergeleken met "
                        "de bijles: ook daar zocht ze een manier die werkt voor een ander. Ze "
                        "noemt het 'de leiding nemen' en 'goed kunnen uitleggen'. Minder leuk: "
                        "de theorie. Ze vraagt zich af of ze liever met oudere leerlingen werkt."
                    ),
                    vooruitkijken=(
                        "Fatima wil uitzoeken wat een docent op de middelbare school doet, "
                        "vergeleken met de basisschool. Nodig: een interview met een docent."
                    ),
                    activeren=(
                        "Ze vraagt mevrouw Jansen, haar docent wiskunde, om een interview van "
                        "twintig minuten. Lastig: docenten hebben het druk. Oplossing: zelf een "
                        "tijd in de pauze voorstellen."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "de leiding nemen",
                            ("proefles-pabo",),
                            "Niemand begon, dus ik heb de taken verdeeld.",
                        ),
                        Insight(
                            "quality",
                            "goed kunnen uitleggen",
                            ("proefles-pabo", "bijles"),
                            "De docent zei dat ik goed kon uitleggen, en Youssef snapte het.",
                        ),
                        Insight("interest", "les geven", ("proefles-pabo", "bijles")),
                    ),
                    actions=(
                        Action(
                            key="interview-docent",
                            description=(
                                "Mevrouw Jansen (wiskunde) interviewen over het werk als docent "
                                "op de middelbare school"
                            ),
                            due=(4, 15),
                            helper="Mevrouw Jansen, docent wiskunde",
                            obstacles=(
                                "Docenten hebben het druk; zelf een tijd in de pauze voorstellen."
                            ),
                        ),
                    ),
                ),
                Experience(
                    key="jansen",
                    kind="interview",
                    title="Interview met mevrouw Jansen, docent wiskunde",
                    on=(4, 10),
                    emotion="positive",
                    place="Lokaal 2.04, in de pauze",
                    story=(
                        "Ik heb mevrouw Jansen in de pauze geïnterviewd. Ze vertelde dat ze het "
                        "mooiste vindt als een leerling die wiskunde haat toch een voldoende "
                        "haalt. Ze zei ook dat nakijken en vergaderen veel tijd kost. Ik herkende "
                        "het gevoel van Youssef en zijn 7. Daarna wist ik zeker dat ik iets met "
                        "uitleggen wil."
                    ),
                ),
                Complete(
                    "interview-docent",
                    "Interview gehouden in de pauze; verslag ingeleverd bij LOB.",
                ),
            ),
        ),
        Year(
            years_ago=0,
            sector="havo",
            grade=5,
            steps=(
                Experience(
                    key="opendag-hbo",
                    kind="open_dag",
                    title="Open dag Hogeschool Het Baken: lerarenopleiding wiskunde",
                    on=(11, 9),
                    emotion="mixed",
                    place="Hogeschool Het Baken",
                    story=(
                        "Ik ging naar de open dag van de lerarenopleiding wiskunde. Er waren maar "
                        "weinig meisjes en dat vond ik eerst ongemakkelijk. Een tweedejaars "
                        "studente liet zien hoe zij stage loopt op een vmbo-school. Ik heb "
                        "gevraagd of je later nog kunt overstappen naar de pabo. In de trein naar "
                        "huis wist ik het eigenlijk al."
                    ),
                ),
                Conversation(
                    on=(11, 27),
                    about=("opendag-hbo", "jansen"),
                    terugkijken=(
                        "Fatima vertelt over de open dag en blikt terug op het interview met "
                        "mevrouw Jansen. Op de open dag stelde ze zelf de vragen."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? 'Ik durfde te vragen wat ik wilde weten, ook al "
                        "voelde ik me ongemakkelijk.' Rode draad met de bijles en het interview: "
                        "ze wil het verschil maken voor iemand die het moeilijk vindt. Ze noemt "
                        "het ook weer 'geduld' en 'uitleggen'."
                    ),
                    vooruitkijken=(
                        "Fatima kiest voor de lerarenopleiding wiskunde. Nodig: aanmelden, en "
                        "uitzoeken hoe de stages in het eerste jaar gaan."
                    ),
                    activeren=(
                        "Ze meldt zich aan via Studielink en mailt de studente van de open dag met "
                        "haar vragen over de stage. Lastig: ze is bang dat de studente niet "
                        "antwoordt; dan belt ze de opleiding."
                    ),
                    insights=(
                        Insight(
                            "motive",
                            "het verschil maken",
                            ("jansen", "bijles"),
                            "Net als mevrouw Jansen wil ik het verschil maken voor iemand die het "
                            "moeilijk vindt.",
                        ),
                        Insight(
                            "quality",
                            "geduld",
                            ("bijles", "jansen"),
                            "Ik geef niet op als iemand het na drie keer nog niet snapt.",
                        ),
                        Insight(
                            "quality",
                            "uitleggen",
                            ("opendag-hbo", "proefles-pabo", "bijles"),
                        ),
                    ),
                    actions=(
                        Action(
                            key="studielink",
                            description=(
                                "Aanmelden via Studielink en de studente van de open dag mailen "
                                "over de stages in het eerste jaar"
                            ),
                            due=(1, 31),
                            helper="Studente lerarenopleiding wiskunde (van de open dag)",
                            obstacles=(
                                "De studente antwoordt misschien niet; dan de opleiding bellen."
                            ),
                        ),
                    ),
                ),
                Complete(
                    "studielink",
                    "Aangemeld via Studielink. De studente antwoordde binnen een dag: in het "
                    "eerste jaar loop je één dag per week stage.",
                ),
            ),
        ),
    ),
)

JESSE = PupilScript(
    name="Jesse Kok",
    external_ref="LL-2874",
    years=(
        Year(
            years_ago=1,
            sector="vmbo",
            grade=2,
            steps=(
                Experience(
                    key="pannenkoeken",
                    kind="praktijkles",
                    title="Praktijkles koken: pannenkoeken voor de informatieavond",
                    on=(11, 22),
                    emotion="positive",
                    place="Schoolkeuken",
                    story=(
                        "Met z'n vieren moesten we pannenkoeken bakken voor de ouders op de "
                        "informatieavond. Ik stond bij de pan en Lars maakte het beslag. Het werd "
                        "heel druk en we moesten snel werken. Ik vond het leuk dat mensen zeiden "
                        "dat ze lekker waren. Er brandde er één aan, en toen heb ik snel een "
                        "nieuwe gebakken zonder dat iemand het merkte."
                    ),
                ),
                Experience(
                    key="restaurant",
                    kind="meeloopdag",
                    title="Meeloopdag in de keuken van restaurant De Gouden Lepel",
                    on=(3, 14),
                    emotion="negative",
                    place="Restaurant De Gouden Lepel",
                    story=(
                        "Ik liep een dag mee in de keuken van een restaurant. Vanaf vijf uur was "
                        "het heel druk en de chef schreeuwde als iets niet snel genoeg ging. Ik "
                        "moest uien snijden en sneed in mijn vinger. Ik voelde me dom en wilde "
                        "naar huis. Wel vond ik het mooi hoe alle koks samen precies op tijd de "
                        "borden klaar hadden."
                    ),
                ),
                Conversation(
                    on=(3, 28),
                    about=("pannenkoeken", "restaurant"),
                    terugkijken=(
                        "Jesse vertelt over de pannenkoekenavond en de meeloopdag in het "
                        "restaurant. Bij de pannenkoeken stond hij zelf bij de pan; in het "
                        "restaurant moest hij uien snijden."
                    ),
                    reflecteren=(
                        "Bij de pannenkoeken voelde hij zich nuttig, in het restaurant dom. Wat "
                        "deed je goed? 'Ik bleef rustig toen die pannenkoek aanbrandde.' Het "
                        "verschil: schreeuwen maakt hem onzeker. Hij wil een rustige sfeer en "
                        "duidelijke uitleg. Hij noemt het 'teamwork' (de koks die samen op tijd "
                        "klaar zijn) en 'rustige werkplek'."
                    ),
                    vooruitkijken=(
                        "Jesse wil weten of er in de horeca ook rustigere plekken zijn, zoals een "
                        "lunchroom of een bakkerij. Eerst meer plekken zien, dan kiezen."
                    ),
                    activeren=(
                        "Hij vraagt de mentor het adres van de lunchroom waar oud-leerlingen "
                        "stage liepen. Lastig: hij schaamt zich nog voor de snee in zijn vinger. "
                        "Oplossing: eerst met zijn moeder daar koffie drinken."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "teamwork",
                            ("restaurant", "pannenkoeken"),
                            "Alle koks hadden samen precies op tijd de borden klaar.",
                        ),
                        Insight(
                            "quality",
                            "rustig blijven",
                            ("pannenkoeken",),
                            "Ik bleef rustig toen die pannenkoek aanbrandde.",
                        ),
                        Insight(
                            "motive",
                            "rustige werkplek",
                            ("restaurant",),
                            "Als de chef schreeuwt, doe ik alles fout.",
                        ),
                        Insight("interest", "koken", ("pannenkoeken", "restaurant")),
                    ),
                    actions=(
                        Action(
                            key="lunchroom",
                            description=(
                                "Langsgaan bij Lunchroom Het Hoekje en vragen naar een stageplek"
                            ),
                            due=(5, 31),
                            helper="De mentor (adres via oud-leerlingen); zijn moeder gaat mee",
                            obstacles="Schaamt zich nog over de meeloopdag in het restaurant.",
                        ),
                    ),
                ),
                Complete(
                    "lunchroom",
                    "Jesse is met zijn moeder langsgegaan; hij mag in klas 3 elke woensdag stage "
                    "lopen in de lunchroom.",
                ),
            ),
        ),
        Year(
            years_ago=0,
            sector="vmbo",
            grade=3,
            steps=(
                Experience(
                    key="hoekje",
                    kind="stage",
                    title="Stage bij Lunchroom Het Hoekje",
                    on=(10, 17),
                    emotion="positive",
                    place="Lunchroom Het Hoekje",
                    story=(
                        "Ik sta nu elke woensdag in de lunchroom. Ik maak tosti's en salades en "
                        "soms sta ik achter de kassa. Ineke, de eigenaar, legt alles rustig uit. "
                        "Laatst kwam er een groep van twintig fietsers tegelijk binnen. Samen met "
                        "Ineke hebben we iedereen op tijd geholpen. Daarna gaf ze me een high five."
                    ),
                ),
                Experience(
                    key="menu",
                    kind="opdracht",
                    title="Opdracht: een gezond menu voor de schoolkantine",
                    on=(12, 4),
                    emotion="mixed",
                    place="Lokaal 0.08",
                    story=(
                        "Met mijn groepje moesten we een gezond lunchmenu bedenken en uitrekenen "
                        "wat het kost. Het bedenken vond ik leuk, ik kwam met het idee van een "
                        "wrapdag. Het rekenen aan de kosten ging moeizaam en Anouk moest me "
                        "helpen. De kantinebaas wil de wrapdag echt proberen."
                    ),
                ),
                Conversation(
                    on=(12, 18),
                    about=("hoekje", "menu"),
                    terugkijken=(
                        "Jesse vertelt over de drukke woensdag met de fietsers en over het "
                        "kantinemenu. Op stage doet hij de tosti's en salades, en soms de kassa."
                    ),
                    reflecteren=(
                        "Vergeleken met het restaurant van vorig jaar: ook nu was het druk, maar "
                        "Ineke bleef rustig en daardoor hij ook. Wat deed je heel goed? 'We hebben "
                        "het samen gefixt.' Hij noemt het 'samenwerken' en bij het menu 'ideeën "
                        "bedenken'. Het rekenen vindt hij lastig."
                    ),
                    vooruitkijken=(
                        "Jesse twijfelt tussen de opleiding Kok en Gastheer/gastvrouw. Hij wil "
                        "weten hoe het is om met gasten te werken in plaats van in de keuken. De "
                        "bel ging voordat we aan activeren toekwamen; dat pakken we de volgende "
                        "keer op."
                    ),
                    activeren=None,
                    insights=(
                        Insight(
                            "quality",
                            "samenwerken",
                            ("hoekje", "pannenkoeken"),
                            "We hebben het samen gefixt.",
                        ),
                        Insight(
                            "quality",
                            "ideeën bedenken",
                            ("menu",),
                            "De wrapdag was mijn idee.",
                        ),
                        Insight(
                            "motive",
                            "rust",
                            ("hoekje", "restaurant"),
                            "Als de baas rustig blijft, blijf ik dat ook.",
                        ),
                    ),
                ),
            ),
        ),
    ),
)

LOTTE = PupilScript(
    name="Lotte Visser",
    external_ref="LL-3051",
    years=(
        Year(
            years_ago=0,
            sector="vmbo",
            grade=1,
            steps=(
                Experience(
                    key="collage",
                    kind="opdracht",
                    title="Opdracht 'Wie ben ik?': een collage over mezelf",
                    on=(9, 26),
                    emotion="positive",
                    place="Mentorles",
                    story=(
                        "We moesten een collage over onszelf maken. Ik plakte foto's van mijn "
                        "paard Bella, mijn tekeningen en mijn vriendinnen erop. Ik heb er ook zelf "
                        "een strip bij getekend. Toen ik hem moest presenteren trilde mijn stem. "
                        "Maar de klas vond de strip grappig en de mentor hing hem op in het lokaal."
                    ),
                ),
                Experience(
                    key="opa",
                    kind="interview",
                    title="Interview met opa over zijn werk als timmerman",
                    on=(10, 30),
                    emotion="positive",
                    place="Bij opa en oma",
                    story=(
                        "Ik heb mijn opa gevraagd naar zijn werk als timmerman. Hij liet me de "
                        "kast zien die hij voor oma heeft gemaakt. Hij zei dat het mooiste is dat "
                        "iets jaren blijft staan. Ik mocht een plankje schuren. Ik vond het leuk, "
                        "maar ik zou het zelf liever mooi verven."
                    ),
                ),
                Conversation(
                    on=(11, 12),
                    about=("collage", "opa"),
                    terugkijken=(
                        "Lotte vertelt over haar collage en de strip, en over het interview met "
                        "haar opa. Bij opa mocht ze zelf een plankje schuren."
                    ),
                    reflecteren=(
                        "Wat deed je heel goed? 'De strip, daar moest iedereen om lachen.' Bij "
                        "opa wilde ze het plankje liever verven dan schuren: ook daar wil ze iets "
                        "moois maken. Ze noemt het 'creatief' en 'tekenen'."
                    ),
                    vooruitkijken=(
                        "Lotte wil meer tekenen en ontdekken of je daar werk van kunt maken. "
                        "Nodig: meer oefenen, en weten welke beroepen met tekenen bestaan."
                    ),
                    activeren=(
                        "Ze meldt zich aan voor de tekenclub na schooltijd bij mevrouw Smit. "
                        "Lastig: de tekenclub is op dinsdag, dan heeft ze paardrijles. Oplossing: "
                        "aan de manege vragen of de les naar woensdag kan."
                    ),
                    insights=(
                        Insight(
                            "quality",
                            "creatief",
                            ("collage", "opa"),
                            "Ik bedenk liever zelf iets moois dan dat ik iets na doe.",
                        ),
                        Insight("interest", "tekenen", ("collage",)),
                        Insight("interest", "paarden", ("collage",)),
                    ),
                    actions=(
                        Action(
                            key="tekenclub",
                            description="Aanmelden voor de tekenclub na schooltijd",
                            due=(12, 1),
                            helper="Mevrouw Smit, docent beeldende vorming",
                            obstacles="De tekenclub is op dinsdag, dan heeft ze paardrijles.",
                        ),
                    ),
                ),
                Complete(
                    "tekenclub",
                    "Aangemeld; de paardrijles is verschoven naar woensdag.",
                ),
            ),
        ),
    ),
)

PUPILS: tuple[PupilScript, ...] = (SANNE, DAAN, FATIMA, JESSE, LOTTE)

# A pupil of the other school: invisible to the demo school's users.
NOAH = PupilScript(
    name="Noah Smit",
    external_ref="OV-0112",
    years=(
        Year(
            years_ago=0,
            sector="havo",
            grade=3,
            steps=(
                Experience(
                    key="dierenarts",
                    kind="meeloopdag",
                    title="Meeloopdag bij de dierenarts",
                    on=(10, 5),
                    emotion="positive",
                    place="Dierenkliniek Het Ven",
                    story=(
                        "Ik mocht een ochtend meelopen bij de dierenarts. Ik hield een kat vast "
                        "die een prik kreeg. Ik was bang dat hij zou krabben, maar het ging goed."
                    ),
                ),
            ),
        ),
    ),
)

USERS: Mapping[str, str] = {
    "coach": "Mevrouw S. de Vries (mentor)",
    "counsellor": "Meneer K. Bakker (decaan)",
    "auditor": "Mevrouw L. Hoekstra (kwaliteitszorg)",
}
OTHER_USERS: Mapping[str, str] = {"coach": "Meneer P. Mulder (mentor)"}


# Playing the scripts.


def load_demo(services: Services) -> DemoInfo:
    """Create the demo schools, users and pupils; refuse when the demo school exists."""
    try:
        services.accounts.add_school(DEMO_SCHOOL, DEMO_SCHOOL_NAME)
    except AccountError:
        raise AccountError(
            f"the demo is already loaded: school {DEMO_SCHOOL} exists in this database"
        ) from None
    if not _school_exists(services, OTHER_SCHOOL):
        services.accounts.add_school(OTHER_SCHOOL, OTHER_SCHOOL_NAME)
    tokens, coach = _add_users(services, DEMO_SCHOOL, USERS)
    other_tokens, other_coach = _add_users(services, OTHER_SCHOOL, OTHER_USERS)
    last_year = last_school_year(services.dossiers.today())
    pupil_ids = tuple(_play(services.dossiers, coach, script, last_year) for script in PUPILS)
    other_id = _play(services.dossiers, other_coach, NOAH, last_year)
    return DemoInfo(
        school=DEMO_SCHOOL,
        tokens=tokens,
        pupil_ids=pupil_ids,
        other_tokens=other_tokens,
        other_pupil_ids=(other_id,),
    )


def last_school_year(today: date) -> int:
    """The first calendar year of the demo's last school year: the current one, unless it
    began less than `FRESH_YEAR` ago."""
    return school_year_start(school_year_of(today - FRESH_YEAR)).year


def _school_exists(services: Services, code: str) -> bool:
    try:
        services.accounts.school_name(code)
    except AccountError:
        return False
    return True


def _add_users(
    services: Services, school: str, users: Mapping[str, str]
) -> tuple[dict[str, str], Actor]:
    """Register the users; answer their tokens by role, and the coach as an actor."""
    tokens = {
        role: services.accounts.add_user(school, role, name)[1] for role, name in users.items()
    }
    return tokens, services.accounts.authenticate(tokens["coach"])


@dataclass(frozen=True)
class _Calendar:
    """Turns a script's (month, day) into a date of one school year, before `limit`."""

    start: date
    scale: float

    @classmethod
    def of(cls, first_year: int, days: list[Day], today: date) -> "_Calendar":
        start = school_year_start(f"{first_year}-{first_year + 1}")
        limit = min(date(first_year + 1, 7, 31), today - timedelta(days=1))
        latest = max((_on(start, day) for day in days), default=start)
        span = (latest - start).days
        scale = 1.0 if latest <= limit or span == 0 else (limit - start).days / span
        return cls(start, scale)

    def date(self, day: Day) -> date:
        offset = (_on(self.start, day) - self.start).days
        return self.start + timedelta(days=int(offset * self.scale))


def _on(start: date, day: Day) -> date:
    month, day_of_month = day
    return date(start.year if month >= 8 else start.year + 1, month, day_of_month)


def _play(dossiers: Dossiers, actor: Actor, script: PupilScript, last_year: int) -> UUID:
    """Open the pupil's dossier and play their years in order; answer the pupil's id."""
    pupil_id: UUID | None = None
    entries: dict[str, UUID] = {}
    for year in script.years:
        first_year = last_year - year.years_ago
        enrolment = {
            "school_year": f"{first_year}-{first_year + 1}",
            "sector": year.sector,
            "grade": year.grade,
        }
        if pupil_id is None:
            values = {"name": script.name, "external_ref": script.external_ref, **enrolment}
            pupil_id = dossiers.open_dossier(actor, values).id
        else:
            dossiers.change_enrolment(actor, pupil_id, enrolment)
        calendar = _Calendar.of(first_year, year.days(), dossiers.today())
        for step in year.steps:
            _step(dossiers, actor, pupil_id, step, entries, calendar)
    if pupil_id is None:
        raise ValueError(f"the script for {script.name} has no school year")
    return pupil_id


def _step(
    dossiers: Dossiers,
    actor: Actor,
    pupil_id: UUID,
    step: Step,
    entries: dict[str, UUID],
    calendar: _Calendar,
) -> None:
    """Play one step; `entries` maps the script's keys to the entry ids they got."""
    match step:
        case Experience():
            values = {
                "kind": step.kind,
                "title": step.title,
                "occurred_on": calendar.date(step.on),
                "story": step.story,
                "emotion": step.emotion,
                "place": step.place,
            }
            entries[step.key] = dossiers.record_experience(actor, pupil_id, values).id
        case Conversation():
            _converse(dossiers, actor, pupil_id, step, entries, calendar)
        case Complete():
            dossiers.complete_action(actor, pupil_id, entries[step.action], step.outcome)
        case Abandon():
            dossiers.abandon_action(actor, pupil_id, entries[step.action], step.reason)
        case Correct():
            dossiers.correct_entry(actor, pupil_id, entries[step.entry], step.changes, step.reason)
        case Retract():
            dossiers.retract_entry(actor, pupil_id, entries[step.entry], step.reason)


def _converse(
    dossiers: Dossiers,
    actor: Actor,
    pupil_id: UUID,
    talk: Conversation,
    entries: dict[str, UUID],
    calendar: _Calendar,
) -> None:
    """Hold a conversation: its phases in order, then its insights and follow-up actions."""
    about = [entries[key] for key in talk.about]
    held = {"held_on": calendar.date(talk.on), "experience_ids": about}
    conversation_id = dossiers.hold_conversation(actor, pupil_id, held).id
    notes = {
        "terugkijken": talk.terugkijken,
        "reflecteren": talk.reflecteren,
        "vooruitkijken": talk.vooruitkijken,
        "activeren": talk.activeren,
    }
    for phase in PHASES:
        if notes[phase] is not None:
            values = {"phase": phase, "notes": notes[phase], "questions": list(QUESTIONS[phase])}
            dossiers.record_phase(actor, pupil_id, conversation_id, values)
    for insight in talk.insights:
        values = {
            "kind": insight.kind,
            "label": insight.label,
            "words": insight.words,
            "experience_ids": [entries[key] for key in insight.about],
            "conversation_id": conversation_id,
        }
        dossiers.record_insight(actor, pupil_id, values)
    for action in talk.actions:
        values = {
            "description": action.description,
            "due_on": calendar.date(action.due),
            "helper": action.helper,
            "obstacles": action.obstacles,
            "conversation_id": conversation_id,
        }
        entries[action.key] = dossiers.plan_action(actor, pupil_id, values).id
