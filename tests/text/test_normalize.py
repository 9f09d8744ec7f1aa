"""Table-driven tests for normalize_text, one table per category."""

from __future__ import annotations

import pytest

from speaker.text import normalize_text, split_sentences


def _norm(text: str, language: str = "en") -> str:
    return " ".join(normalize_text(text, language=language).split())


CARDINALS = [
    (
        "There are 1,234,567 people.",
        "There are one million two hundred thirty-four thousand five hundred sixty-seven people.",
    ),
    ("It was -15 outside.", "It was minus fifteen outside."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("I counted 0.5 and .75 of it.", "I counted zero point five and point seven five of it."),
    (
        "The debt is 31400000000000 dollars.",
        "The debt is thirty-one trillion four hundred billion dollars.",
    ),
    ("Room 007 is open.", "Room zero zero seven is open."),
    ("I have 42 cats and 0 dogs.", "I have forty-two cats and zero dogs."),
    ("Version 3.11.7 is out.", "Version three point eleven point seven is out."),
    (
        "Ping 192.168.1.1 now.",
        "Ping one hundred ninety-two dot one hundred sixty-eight dot one dot one now.",
    ),
]
CURRENCY = [
    ("It costs $47.50.", "It costs forty-seven dollars and fifty cents."),
    ("It costs $1.", "It costs one dollar."),
    ("They raised €3.2 million.", "They raised three point two million euros."),
    ("A ticket is £5.", "A ticket is five pounds."),
    ("That is £2.50 each.", "That is two pounds and fifty pence each."),
    ("It was ¥1000.", "It was one thousand yen."),
    ("Send 5 USD now.", "Send five dollars now."),
    ("Only $0.99 today.", "Only ninety-nine cents today."),
    ("Revenue hit $5M.", "Revenue hit five million dollars."),
    ("It is 50¢.", "It is fifty cents."),
    ("A $1,250,000 house.", "A one million two hundred fifty thousand dollars house."),
    ("It cost €1.01.", "It cost one euro and one cent."),
    ("Pay 20€ or EUR 30.", "Pay twenty euros or thirty euros."),
]
PERCENTAGES = [
    ("Fees rose 45% this year.", "Fees rose forty-five percent this year."),
    (
        "Rates fell 3.5% and then -2%.",
        "Rates fell three point five percent and then minus two percent.",
    ),
    ("A 100 % chance.", "A one hundred percent chance."),
    ("Between 10-20% of users.", "Between ten to twenty percent of users."),
]
ORDINALS = [
    (
        "She came 1st, he came 22nd, they came 103rd.",
        "She came first, he came twenty-second, they came one hundred third.",
    ),
    ("The 11th hour.", "The eleventh hour."),
    ("Our 2nd and 3rd tries.", "Our second and third tries."),
    ("The 21st century.", "The twenty-first century."),
]
DATES = [
    ("Due 10/15/2025.", "Due October fifteenth, twenty twenty-five."),
    ("Due 2025-10-15.", "Due October fifteenth, twenty twenty-five."),
    ("Due 15 October 2025.", "Due October fifteenth, twenty twenty-five."),
    ("Due October 15, 2025.", "Due October fifteenth, twenty twenty-five."),
    ("Due Oct. 15 at noon.", "Due October fifteenth at noon."),
    ("Born on the 4th of July.", "Born on the fourth of July."),
    ("Published in March 2020.", "Published in March twenty twenty."),
    ("Due 15 Oct. 2025 or 3 May.", "Due October fifteenth, twenty twenty-five or May third."),
    (
        "Logged 2025-10-15T14:30:00Z.",
        "Logged October fifteenth, twenty twenty-five, at fourteen thirty.",
    ),
    ("On 4/20 we meet.", "On April twentieth we meet."),
]
YEARS = [
    ("Built in 1999.", "Built in nineteen ninety-nine."),
    ("Built in 2005.", "Built in two thousand five."),
    ("Released in 2025.", "Released in twenty twenty-five."),
    ("In 1905 and 2000 and 1900.", "In nineteen oh five and two thousand and nineteen hundred."),
    ("Music of the 1990s and the '80s.", "Music of the nineteen nineties and the eighties."),
    ("The 2000s and the 1800s.", "The two thousands and the eighteen hundreds."),
]
TIMES = [
    ("Meet at 3:45 pm today.", "Meet at three forty-five P M today."),
    ("Meet at 10:00 a.m. tomorrow.", "Meet at ten A-M tomorrow."),
    ("Meet at 14:30.", "Meet at fourteen thirty."),
    ("It opens at 9am.", "It opens at nine A-M."),
    ("It starts at 10 a.m. The talk follows.", "It starts at ten A-M. The talk follows."),
    ("A storm after 6 pm. Tomorrow is dry.", "A storm after six P M. Tomorrow is dry."),
    ("Meet at 6:30 PM. Bring water.", "Meet at six thirty P M. Bring water."),
    ("Lunch is at 12:05.", "Lunch is at twelve oh five."),
    ("Call at 7 PM or 14:00.", "Call at seven P M or fourteen hundred."),
]
RANGES = [
    ("Ages 4–6 welcome.", "Ages four to six welcome."),
    ("Ages 4-6 welcome.", "Ages four to six welcome."),
    ("Open Monday–Friday.", "Open Monday to Friday."),
    ("Open Mon-Fri.", "Open Mon to Fri."),
    ("Read pages 10-20.", "Read pages ten to twenty."),
    ("Open 9am–5pm daily.", "Open nine A-M to five P M daily."),
    ("From 1990–2000.", "From nineteen ninety to two thousand."),
    ("ISBN 978-3-16 stays.", "I S B N nine hundred seventy-eight-three-sixteen stays."),
]
FRACTIONS = [
    ("Add 1/2 cup.", "Add one half cup."),
    ("Add 3/4 cup.", "Add three quarters cup."),
    ("Add 2/3 cup.", "Add two thirds cup."),
    ("Add 5 1/2 cups.", "Add five and a half cups."),
    ("Add ½ cup and 2¾ cups.", "Add one half cup and two and three quarters cups."),
    ("Rate of 7/8.", "Rate of seven eighths."),
    ("Open 24/7.", "Open twenty-four seven."),
    ("Use ⅓ of it.", "Use one third of it."),
]
UNITS = [
    ("It is 5 km away.", "It is five kilometers away."),
    ("A 1 km run.", "A one kilometer run."),
    ("It weighs 2 kg.", "It weighs two kilograms."),
    ("Take 500 mg.", "Take five hundred milligrams."),
    ("He weighs 180 lbs.", "He weighs one hundred eighty pounds."),
    ("Add 8 oz and 5 ml and 2 l.", "Add eight ounces and five milliliters and two liters."),
    ("Drove 60 mph.", "Drove sixty miles per hour."),
    ("Speed 100 km/h.", "Speed one hundred kilometers per hour."),
    ("It is 20°C.", "It is twenty degrees Celsius."),
    ("It was -40°F.", "It was minus forty degrees Fahrenheit."),
    ("It has 16 GB and 512 MB.", "It has sixteen gigabytes and five hundred twelve megabytes."),
    ("Runs at 2.4 GHz.", "Runs at two point four gigahertz."),
    ("Took 500 ms or 3 s.", "Took five hundred milliseconds or three seconds."),
    ("He is 6'2\" tall.", "He is six feet two inches tall."),
    ("She is 5 ft. tall.", "She is five feet tall."),
    ("Cut 10mm and 3 cm.", "Cut ten millimeters and three centimeters."),
    ("I'm at the gym.", "I'm at the gym."),
]
ROMAN = [
    ("Henry VIII had six wives.", "Henry the eighth had six wives."),
    ("Queen Elizabeth II reigned.", "Queen Elizabeth the second reigned."),
    ("World War II ended.", "World War two ended."),
    ("World War I ended.", "World War one ended."),
    ("Read Chapter IV.", "Read Chapter four."),
    ("See Part III.", "See Part three."),
    ("Super Bowl LVIII was close.", "Super Bowl fifty-eight was close."),
    ("Louis XIV's palace.", "Louis the fourteenth's palace."),
    ("King Charles III spoke.", "King Charles the third spoke."),
    ("Rocky II is a film.", "Rocky two is a film."),
    ("I think so, and I agree.", "I think so, and I agree."),
    ("Mary I love you.", "Mary I love you."),
    ("The MIX DIV CIVIL sign.", "The MIX DIV CIVIL sign."),
]
ABBREVIATIONS = [
    ("Dr. Rivera is here.", "Doctor Rivera is here."),
    ("Mr. and Mrs. Smith met Ms. Lee.", "Mister and Missus Smith met Miz Lee."),
    ("Prof. Xavier teaches.", "Professor Xavier teaches."),
    ("We visited St. Louis.", "We visited Saint Louis."),
    ("He lives on Main St.", "He lives on Main Street."),
    ("He lives on Main St. Then he moved.", "He lives on Main Street. Then he moved."),
    ("Martin Luther King Jr. was a leader.", "Martin Luther King Junior was a leader."),
    ("John Smith Sr. retired.", "John Smith Senior retired."),
    ("It is apples vs. oranges.", "It is apples versus oranges."),
    ("Bring pens, paper, etc.", "Bring pens, paper, et cetera."),
    ("Use tools, e.g. hammers.", "Use tools, for example hammers."),
    ("Fruit, i.e. apples.", "Fruit, that is apples."),
    ("It is approx. 5 miles.", "It is approximately five miles."),
    ("Acme Inc. is big.", "Acme Incorporated is big."),
    (
        "Acme Ltd. and Acme Co. and Acme Corp. merged.",
        "Acme Limited and Acme Company and Acme Corporation merged.",
    ),
    (
        "It is on 5th Ave. near Sunset Blvd. today.",
        "It is on fifth Avenue near Sunset Boulevard today.",
    ),
    ("They climbed Mt. Everest.", "They climbed Mount Everest."),
    ("He was No. 5 in line.", "He was number five in line."),
    ("No. I refuse.", "No. I refuse."),
    ("She lives in the U.S. now.", "She lives in the U S now."),
    ("The U.S. Army and the U.K. and the U.N. met.", "The U S Army and the U K and the U N met."),
    ("She moved to the U.S.", "She moved to the U S."),
    ("J. R. R. Tolkien wrote it.", "J R R Tolkien wrote it."),
    ("John F. Kennedy spoke.", "John F Kennedy spoke."),
    ("Ask Dr. Smith on Mulholland Dr. today.", "Ask Doctor Smith on Mulholland Drive today."),
    ("Dr Who met Mr Bean.", "Doctor Who met Mister Bean."),
]
ACRONYMS = [
    ("The FBI and the CIA.", "The F B I and the C I-A."),
    ("Learn HTML and the API.", "Learn H T M L and the A-P I."),
    ("NASA and NATO and UNESCO.", "NASA and NATO and UNESCO."),
    ("SCUBA and LASER gear.", "SCUBA and LASER gear."),
    ("HELLO THERE, STOP IT NOW.", "HELLO THERE, STOP it now."),
    ("I am SO happy.", "I am so happy."),
    ("The IT team.", "The I T team."),
    ("Two APIs and the FBI's files.", "Two A-P I's and the F B I's files."),
    ("That is OK.", "That is okay."),
    ("An MP3 player.", "An M P three player."),
    ("The USA won.", "The U S-A won."),
]
WEB = [
    ("Visit https://example.com/docs today.", "Visit example dot com slash docs today."),
    ("Email jane.doe@example.org today.", "Email jane dot doe at example dot org today."),
    ("Go to www.example.com now.", "Go to example dot com now."),
    ("See github.com/user/repo for code.", "See github dot com slash user slash repo for code."),
    ("Open https://docs.example.io/a-b?x=1#top.", "Open docs dot example dot I O slash a dash b."),
    (
        "Write to first_last@mail.example.com.",
        "Write to first underscore last at mail dot example dot com.",
    ),
]
PHONES = [
    ("Call (555) 123-4567 now.", "Call five five five, one two three, four five six seven now."),
    (
        "Call +1 555-123-4567 now.",
        "Call plus one, five five five, one two three, four five six seven now.",
    ),
    ("Call 555-123-4567 now.", "Call five five five, one two three, four five six seven now."),
    ("Call 555.123.4567 now.", "Call five five five, one two three, four five six seven now."),
    (
        "Call +44 20 7946 0958 now.",
        "Call plus four four, two zero, seven nine four six, zero nine five eight now.",
    ),
]
SYMBOLS = [
    ("Tom & Jerry.", "Tom and Jerry."),
    ("2+2=4.", "two plus two equals four."),
    ("Meet @ noon.", "Meet at noon."),
    ("We're #1.", "We're number one."),
    ("Roughly ~5 people.", "Roughly about five people."),
    ("Use C++ and C#.", "Use C plus plus and C sharp."),
    ("A 2x4 board.", "A two by four board."),
    ("Read and/or write.", "Read and or write."),
    ("It is 3x faster.", "It is three times faster."),
]
CLEANUP = [
    ("I ❤️ you 👍🏽.", "I you."),
    ("Family 👨‍👩‍👧 and flag 🇺🇸 here.", "Family and flag here."),
    ("Done ✅ 🏳️‍🌈 ok", "Done ok"),
    ("<p>Hello <b>world</b></p>", "Hello world"),
    ("Fish &amp; chips &lt;3", "Fish and chips less than three"),
    ("This is **bold** and *italic* and `code`.", "This is bold and italic and code."),
    ("See [the docs](https://example.com/docs).", "See the docs."),
    ("Read the file snake_case_name.", "Read the file snake case name."),
    ("An ![image alt](pic.png) here.", "An image alt here."),
    ("Bell\x07 and\x00 null\u200b zero width.", "Bell and null zero width."),
    ("Lots    of\t\tspace   here.", "Lots of space here."),
    ("~~old~~ new", "old new"),
    ("<!-- hidden --> shown", "shown"),
]
RTL = [
    ("مرحبا بالعالم", "مرحبا بالعالم"),
    ("שלום עולם 👋", "שלום עולם"),
    ("مرحبا 123 שלום", "مرحبا one hundred twenty-three שלום"),
]
TABLES = [
    ("cardinal", CARDINALS),
    ("currency", CURRENCY),
    ("percent", PERCENTAGES),
    ("ordinal", ORDINALS),
    ("date", DATES),
    ("year", YEARS),
    ("time", TIMES),
    ("range", RANGES),
    ("fraction", FRACTIONS),
    ("unit", UNITS),
    ("roman", ROMAN),
    ("abbreviation", ABBREVIATIONS),
    ("acronym", ACRONYMS),
    ("web", WEB),
    ("phone", PHONES),
    ("symbol", SYMBOLS),
    ("cleanup", CLEANUP),
    ("rtl", RTL),
]
ALL_CASES = [
    pytest.param(source, expected, id=f"{name}-{index}")
    for name, table in TABLES
    for index, (source, expected) in enumerate(table)
]


@pytest.mark.parametrize(("source", "expected"), ALL_CASES)
def test_normalize_english(source: str, expected: str) -> None:
    assert _norm(source) == expected


def test_markdown_document_keeps_line_structure() -> None:
    source = (
        "# Shopping list\n\n- apples\n- 2 pears\n\n> quoted text\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert normalize_text(source).split("\n") == [
        "Shopping list.",
        "apples.",
        "two pears.",
        "quoted text.",
        "a, b.",
        "one, two",
    ]


def test_soft_wrapped_lines_are_joined() -> None:
    assert normalize_text("This sentence was\nwrapped by an editor.") == (
        "This sentence was wrapped by an editor."
    )


def test_only_emoji_and_markup_gives_empty_text() -> None:
    assert normalize_text("👍 🎉 <br/> **") == ""


@pytest.mark.parametrize(
    "source",
    [
        "Dr. Rivera met Mr. Smith at 10 a.m. on Oct. 15 in the U.S. Army base.",
        "J. R. R. Tolkien and John F. Kennedy vs. Prof. Xavier, e.g. approx. 5 ft. tall.",
        "St. Louis Ave. near Mt. Hood, No. 5 and Inc. reports, i.e. the U.N. plan.",
    ],
)
def test_abbreviation_periods_do_not_split_sentences(source: str) -> None:
    normalized = normalize_text(source)
    assert normalized.count(". ") == 0
    assert split_sentences(normalized) == [normalized]


@pytest.mark.parametrize(
    ("source", "language", "expected"),
    [
        ("Ich habe 3 Äpfel und 1000 Birnen.", "de", "Ich habe drei Äpfel und eintausend Birnen."),
        ("J'ai 21 ans 🎉.", "fr-FR", "J'ai vingt et un ans."),
        ("Tengo 5 gatos.", "es", "Tengo cinco gatos."),
        ("Tenho 2 gatos.", "pt_BR", "Tenho dois gatos."),
        ("Er wog 3,5 kg.", "de", "Er wog 3,5 kg."),
        ("**Hallo** <b>Welt</b> 👋", "de", "Hallo Welt"),
        ("Dr. 5 $", "xx", "Dr. 5 $"),
        ("Hello 5 FBI.", "en-US", "Hello five F B I."),
        ("Hello 5.", "en_GB", "Hello five."),
    ],
)
def test_other_languages_get_neutral_cleanup_and_num2words(
    source: str, language: str, expected: str
) -> None:
    assert _norm(source, language) == expected
