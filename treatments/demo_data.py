"""The demo clinics' configuration as data: protocol defaults from DOMAIN.md, services, staff, forms."""

import struct
import zlib
from decimal import Decimal as D

DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105  (printed for the demo; never used in production)

CLINIC = {
    "slug": "lumen",
    "name": "Lumen Skin Clinic",
    "time_zone": "Europe/London",
    "currency": "GBP",
    "email": "hello@lumen.example",
    "phone": "+44 20 7946 0000",
    "address": "12 Marylebone Lane, London W1U 2NE",
    "consent_signed_by_practitioner": True,
    "missed_visit_fee": D("30"),
}
OTHER_CLINIC = {
    "slug": "harbour",
    "name": "Harbour Aesthetics",
    "time_zone": "America/New_York",
    "currency": "USD",
    "email": "desk@harbour.example",
    "phone": "+1 212 555 0100",
    "address": "40 Water St, New York, NY 10004",
}

# username, display name, role, qualifications {modality: max depth or None}, working days, hours
STAFF = [
    ("frontdesk", "Jo Carter", "front_desk", {}, [], None),
    ("manager", "Morgan Ellis", "manager", {}, [], None),
    (
        "practitioner",
        "Sam Rivera",
        "practitioner",
        {"microneedling": D("1.00"), "microcurrent": None},
        [0, 1, 2, 3, 4],
        ("09:00", "17:00"),
    ),
    (
        "nurse",
        "Nurse Priya Shah",
        "practitioner",
        {"microneedling": D("2.50"), "microcurrent": None, "mesotherapy": None},
        [0, 1, 2, 3, 4],
        ("09:00", "17:30"),
    ),
    (
        "doctor",
        "Dr Amara Lee",
        "practitioner",
        {"microneedling": D("3.00"), "microcurrent": None, "mesotherapy": None},
        [1, 2, 3, 4, 5],
        ("10:00", "18:00"),
    ),
]
OTHER_STAFF = [
    ("harbour", "Lee Morgan", "front_desk", {}, [], None),
    (
        "harbour-nurse",
        "Nurse Dana Ortiz",
        "practitioner",
        {"microcurrent": None},
        [0, 1, 2, 3, 4],
        ("09:00", "17:00"),
    ),
]

ROOMS = ["Treatment room 1", "Treatment room 2", "Treatment room 3"]
# name, kind, max depth
DEVICES = [
    ("SkinPen A", "pen", D("2.50")),
    ("SkinPen B", "pen", D("2.50")),
    ("RF microneedling pen", "rf_pen", D("3.00")),
    ("Dermaroller 0.5 mm", "roller", D("0.50")),
    ("Microcurrent unit 1", "microcurrent_unit", None),
    ("Microcurrent unit 2", "microcurrent_unit", None),
    ("Electroporation unit", "electroporation", None),
]

MICRONEEDLING_CONTRAINDICATIONS = [
    ("active-acne", "absolute", None, "Active acne or infection in the area"),
    ("cold-sores", "relative", None, "History of cold sores: antiviral cover before treatment"),
    ("isotretinoin", "absolute", 180, "Isotretinoin in the last 6 months (clinic rule)"),
    ("anticoagulants", "relative", None, "Anticoagulants or aspirin"),
    ("bleeding-disorder", "absolute", None, "Bleeding disorder"),
    ("keloids", "absolute", None, "Keloid scarring"),
    ("pregnancy", "absolute", None, "Pregnant"),
    ("breastfeeding", "absolute", None, "Breastfeeding"),
    ("eczema-psoriasis-rosacea", "relative", None, "Eczema, psoriasis or rosacea in the area"),
    ("diabetes", "relative", None, "Diabetes: only if controlled"),
    ("chemotherapy", "absolute", 90, "Chemotherapy or radiotherapy in the last 3 months"),
    ("immunosuppression", "relative", None, "Immunosuppressed"),
    ("skin-cancer", "absolute", None, "Skin cancer, raised moles or warts in the area"),
    ("lidocaine-allergy", "relative", None, "Allergy to topical anaesthetic"),
    ("metal-allergy", "absolute", None, "Allergy to stainless steel"),
    ("fillers", "relative", 180, "Dermal filler in the last 6 months"),
    ("surgery", "relative", 180, "Surgery in the area in the last 6 months"),
    ("botox", "relative", 90, "Neurotoxin in the last 3 months"),
    ("peel", "absolute", 30, "Chemical peel in the last 30 days"),
    ("tattoo", "relative", None, "Tattoo or permanent makeup in the area: work around it"),
]
MICROCURRENT_CONTRAINDICATIONS = [
    ("pacemaker", "absolute", None, "Pacemaker or implanted electrical device"),
    ("pregnancy", "absolute", None, "Pregnant"),
    ("epilepsy", "absolute", None, "Epilepsy"),
    ("active-cancer", "absolute", None, "Active cancer"),
    ("metal-implants", "relative", None, "Metal implants in the area (remove piercings)"),
    ("thrombosis", "absolute", None, "Thrombosis or phlebitis"),
    ("heart-condition", "relative", None, "Heart condition: physician approval"),
    ("diabetes", "relative", None, "Diabetes: physician approval"),
    ("active-acne", "relative", None, "Open sores or active acne"),
    ("botox", "relative", 14, "Neurotoxin in the last 14 days"),
    ("fillers", "relative", 30, "Filler in the last 30 days"),
    ("under-18", "absolute", None, "Under 18"),
]
MESOTHERAPY_CONTRAINDICATIONS = [
    ("pregnancy", "absolute", None, "Pregnant"),
    ("breastfeeding", "absolute", None, "Breastfeeding"),
    ("active-cancer", "absolute", None, "Cancer"),
    ("anticoagulants", "absolute", None, "Anticoagulants"),
    ("bleeding-disorder", "absolute", None, "Coagulation disorder"),
    ("product-allergy", "absolute", None, "Allergy to an ingredient"),
    ("autoimmune", "relative", None, "Autoimmune disease"),
    ("heart-condition", "relative", None, "Severe heart disease"),
    ("kidney-disease", "relative", None, "Severe kidney disease"),
    ("diabetes", "relative", None, "Diabetes"),
    ("cold-sores", "relative", None, "Infection or inflammation at the site"),
]

PROTOCOLS = [
    {
        "name": "Microneedling – face and neck",
        "modality": "microneedling",
        "description": "Collagen induction. Endpoint: uniform pinpoint bleeding. Hyaluronic serum after; "
        "no vitamin C during or right after needling (granuloma risk).",
        "min_interval_days": 28,
        "course_sessions": 4,
        "course_interval_days": 35,
        "maintenance_interval_days": 270,
        "allowed_device_kinds": ["pen", "rf_pen", "roller", "stamp"],
        "areas": [
            ("forehead", D("0.25"), D("0.50")),
            ("cheeks", D("0.50"), D("1.00")),
            ("nose", D("0.25"), D("0.50")),
            ("periorbital", D("0.20"), D("0.30")),
            ("perioral", D("0.25"), D("0.50")),
            ("chin-jawline", D("0.50"), D("1.00")),
            ("neck", D("0.50"), D("1.00")),
            ("decolletage", D("0.25"), D("0.50")),
            ("acne-scars", D("0.50"), D("2.00")),
        ],
        "contraindications": MICRONEEDLING_CONTRAINDICATIONS,
    },
    {
        "name": "Microneedling – body",
        "modality": "microneedling",
        "description": "Stretch marks (red striae 1.0–1.5 mm, white 1.5–2.5 mm; inner thigh shallower), "
        "buttocks and cellulite.",
        "min_interval_days": 28,
        "course_sessions": 6,
        "course_interval_days": 35,
        "maintenance_interval_days": 270,
        "allowed_device_kinds": ["pen", "rf_pen"],
        "areas": [
            ("stretch-marks", D("1.00"), D("2.50")),
            ("buttocks", D("0.50"), D("1.50")),
            ("thighs", D("0.50"), D("1.50")),
            ("abdomen", D("0.50"), D("1.50")),
        ],
        "contraindications": MICRONEEDLING_CONTRAINDICATIONS,
    },
    {
        "name": "Microcurrent face workout",
        "modality": "microcurrent",
        "description": "Twice a week for five weeks (10 sessions), then monthly maintenance.",
        "min_interval_days": 2,
        "course_sessions": 10,
        "course_sessions_per_week": D("2.0"),
        "maintenance_interval_days": 30,
        "allowed_device_kinds": ["microcurrent_unit"],
        "current_min_ua": 100,
        "current_max_ua": 400,
        "frequency_min_hz": D("0.50"),
        "frequency_max_hz": D("10.00"),
        "waveforms": ["square", "sine", "sawtooth", "other"],
        "areas": [
            ("brow", None, None),
            ("periorbital", None, None),
            ("cheeks", None, None),
            ("chin-jawline", None, None),
            ("neck", None, None),
        ],
        "contraindications": MICROCURRENT_CONTRAINDICATIONS,
    },
    {
        "name": "Mesotherapy – face",
        "modality": "mesotherapy",
        "description": "30–32G ~4 mm needle, points ~1 cm apart, 0.1–0.2 mL per point. "
        "4 sessions every 2 weeks, then monthly. No makeup for 6 h; no massage or devices for 3 days.",
        "min_interval_days": 14,
        "course_sessions": 4,
        "course_interval_days": 14,
        "maintenance_interval_days": 30,
        "techniques": ["nappage", "papule", "linear_retrograde", "needle_free"],
        "depth_min_mm": D("0.50"),
        "depth_max_mm": D("4.00"),
        "areas": [("face", None, None), ("neck", None, None), ("decolletage", None, None)],
        "contraindications": MESOTHERAPY_CONTRAINDICATIONS,
        "products": ["HA Revitalising Complex", "Vitamin & Amino Cocktail"],
    },
    {
        "name": "Mesotherapy – scalp",
        "modality": "mesotherapy",
        "description": "Every 1–2 weeks for 2–3 months, then monthly or quarterly.",
        "min_interval_days": 7,
        "course_sessions": 8,
        "course_interval_days": 10,
        "maintenance_interval_days": 60,
        "techniques": ["nappage", "papule", "point_by_point"],
        "depth_min_mm": D("1.00"),
        "depth_max_mm": D("4.00"),
        "areas": [("scalp", None, None)],
        "contraindications": MESOTHERAPY_CONTRAINDICATIONS,
        "products": ["Scalp Growth Formula"],
    },
]

# name, manufacturer, order more below (mL), [(lot, expiry: a date, or days from the day seeded, mL received)]
PRODUCTS = [
    (
        "HA Revitalising Complex",
        "DermaLab",
        D("10"),
        [("HA24-1187", "2027-06-30", D("20")), ("HA25-0412", "2027-11-30", D("20"))],
    ),
    (
        "Vitamin & Amino Cocktail",
        "MesoPharm",
        D("10"),
        [("VAC-88213", "2027-03-31", D("15")), ("VAC-87990", 20, D("5"))],  # to use first
    ),
    ("Scalp Growth Formula", "MesoPharm", D("25"), [("SGF-5520", "2027-09-30", D("24"))]),
]

# name, protocols, minutes, before, after, price, device kind, max depth, online, description
SERVICES = [
    (
        "Microneedling facial",
        ["Microneedling – face and neck"],
        60,
        15,
        10,
        D("180.00"),
        "pen",
        D("1.00"),
        True,
        "Pen microneedling of face and neck with numbing cream.",
    ),
    (
        "Microneedling for acne scars",
        ["Microneedling – face and neck"],
        75,
        20,
        10,
        D("220.00"),
        "pen",
        D("2.00"),
        True,
        "Deeper needling of acne scars; nurse or doctor.",
    ),
    (
        "RF microneedling",
        ["Microneedling – face and neck"],
        75,
        20,
        15,
        D("350.00"),
        "rf_pen",
        D("3.00"),
        False,
        "Radio-frequency microneedling; doctor only.",
    ),
    (
        "Body microneedling – stretch marks",
        ["Microneedling – body"],
        90,
        20,
        15,
        D("260.00"),
        "pen",
        D("2.50"),
        True,
        "Stretch marks, buttocks or thighs.",
    ),
    (
        "Microcurrent face workout",
        ["Microcurrent face workout"],
        45,
        0,
        10,
        D("85.00"),
        "microcurrent_unit",
        None,
        True,
        "Toning session; best as a course of 10.",
    ),
    (
        "Mesotherapy facial",
        ["Mesotherapy – face"],
        45,
        10,
        10,
        D("195.00"),
        "",
        None,
        True,
        "Micro-injections of hyaluronic acid and vitamins.",
    ),
    (
        "Meso infusion (needle-free)",
        ["Mesotherapy – face"],
        45,
        0,
        10,
        D("120.00"),
        "electroporation",
        None,
        True,
        "Electroporation of a hyaluronic serum; no needles.",
    ),
    (
        "Scalp mesotherapy",
        ["Mesotherapy – scalp"],
        45,
        10,
        10,
        D("160.00"),
        "",
        None,
        True,
        "Scalp micro-injections for thinning hair.",
    ),
    (
        "Microneedling + microcurrent combo",
        ["Microneedling – face and neck", "Microcurrent face workout"],
        90,
        15,
        15,
        D("240.00"),
        "pen",
        D("1.00"),
        False,
        "Microcurrent lift then microneedling in one visit.",
    ),
    ("Consultation", [], 30, 0, 0, D("0.00"), "", None, True, "Skin assessment and treatment plan."),
]
# Services that use a second device in the same visit: it is booked with the first.
SECOND_DEVICE_KINDS = {"Microneedling + microcurrent combo": "microcurrent_unit"}

# The intake as DOMAIN.md lists it, under the headings the client reads: per question its code, the
# question, its kind and the condition a yes or a date records for the contraindication rules.
INTAKE_SECTIONS = [
    (
        "Your health",
        [
            ("pregnancy", "Are you pregnant or trying to become pregnant?", "yes_no", "pregnancy"),
            ("breastfeeding", "Are you breastfeeding?", "yes_no", "breastfeeding"),
            (
                "pacemaker",
                "Do you have a pacemaker or any implanted electrical device?",
                "yes_no",
                "pacemaker",
            ),
            (
                "metal-implants",
                "Do you have metal implants or piercings in the face or neck?",
                "yes_no",
                "metal-implants",
            ),
            ("epilepsy", "Do you have epilepsy?", "yes_no", "epilepsy"),
            (
                "heart-condition",
                "Do you have a heart condition or high blood pressure?",
                "yes_no",
                "heart-condition",
            ),
            (
                "bleeding-disorder",
                "Do you have a bleeding or clotting disorder?",
                "yes_no",
                "bleeding-disorder",
            ),
            ("thrombosis", "Have you had a blood clot (thrombosis) or phlebitis?", "yes_no", "thrombosis"),
            ("active-cancer", "Are you being treated for cancer?", "yes_no", "active-cancer"),
            (
                "chemotherapy",
                "Date of your last chemotherapy or radiotherapy, if any",
                "date",
                "chemotherapy",
            ),
            ("autoimmune", "Do you have an autoimmune disease?", "yes_no", "autoimmune"),
            ("diabetes", "Do you have diabetes?", "yes_no", "diabetes"),
            ("kidney-disease", "Do you have kidney disease?", "yes_no", "kidney-disease"),
            ("keloids", "Do you form keloid or raised scars?", "yes_no", "keloids"),
            ("cold-sores", "Do you get cold sores?", "yes_no", "cold-sores"),
        ],
    ),
    (
        "The area to treat",
        [
            (
                "eczema-psoriasis-rosacea",
                "Eczema, psoriasis or rosacea in the area to treat?",
                "yes_no",
                "eczema-psoriasis-rosacea",
            ),
            ("active-acne", "Do you have active acne or an infection in the area?", "yes_no", "active-acne"),
            (
                "skin-cancer",
                "Skin cancer, raised moles or warts in the area to treat?",
                "yes_no",
                "skin-cancer",
            ),
            ("tattoo", "A tattoo or permanent makeup in the area to treat?", "yes_no", "tattoo"),
        ],
    ),
    (
        "Medicines",
        [
            ("anticoagulants", "Do you take anticoagulants or aspirin?", "yes_no", "anticoagulants"),
            (
                "isotretinoin",
                "Date of your last isotretinoin (Roaccutane) dose, if ever",
                "date",
                "isotretinoin",
            ),
            (
                "retinoids",
                "Date you last used a retinoid cream (tretinoin, retinol, adapalene), if you use one",
                "date",
                "retinoids",
            ),
            (
                "immunosuppression",
                "Do you take immunosuppressants or high-dose steroids, or have a weakened immune system?",
                "yes_no",
                "immunosuppression",
            ),
            (
                "photosensitisers",
                "Do you take a medicine that makes your skin sensitive to the sun (such as doxycycline)?",
                "yes_no",
                "photosensitisers",
            ),
            ("antibiotics", "Are you taking antibiotics at the moment?", "yes_no", "antibiotics"),
            ("st-johns-wort", "Do you take St John's wort?", "yes_no", "st-johns-wort"),
        ],
    ),
    (
        "Allergies",
        [
            (
                "lidocaine-allergy",
                "Are you allergic to lidocaine or numbing creams?",
                "yes_no",
                "lidocaine-allergy",
            ),
            (
                "metal-allergy",
                "Are you allergic to metals (nickel, stainless steel)?",
                "yes_no",
                "metal-allergy",
            ),
            (
                "product-allergy",
                "Any allergy to hyaluronic acid, vitamins or other ingredients?",
                "yes_no",
                "product-allergy",
            ),
        ],
    ),
    (
        "Treatments you have had",
        [
            ("botox", "Date of your last Botox or other neurotoxin, if any", "date", "botox"),
            ("fillers", "Date of your last dermal filler, if any", "date", "fillers"),
            ("peel", "Date of your last chemical peel, if any", "date", "peel"),
            ("laser", "Date of your last laser or IPL treatment, if any", "date", "laser"),
            ("surgery", "Date of any surgery in the area, if any", "date", "surgery"),
        ],
    ),
    (
        "Sun and lifestyle",
        [
            ("sun-exposure", "How much time do you spend in the sun?", "choice", ""),
            ("sunbed", "Have you used a sunbed or been sunburnt in the last week?", "yes_no", "sunbed"),
            ("smoking", "Do you smoke?", "yes_no", "smoking"),
        ],
    ),
    (
        "Your skin",
        [
            ("fitzpatrick", "Skin type (Fitzpatrick I–VI)", "choice", ""),
            ("glogau", "Lines and wrinkles (Glogau I–IV)", "choice", ""),
            ("concerns", "What concerns you about your skin?", "text", ""),
            ("goals", "What would you like to improve?", "text", ""),
        ],
    ),
]
# The clinic's first intake form, 600 days old, asked none of these (nor had headings).
INTAKE_V1_LEFT_OUT = {
    "botox",
    "fillers",
    "peel",
    "laser",
    "surgery",
    "retinoids",
    "photosensitisers",
    "antibiotics",
    "st-johns-wort",
    "sun-exposure",
    "sunbed",
    "smoking",
    "glogau",
    "concerns",
}

# The Lumen client who is 16: their parent signed their consents (and is their emergency contact).
MINOR_CLIENT = 12

# Skin types as a client can recognise theirs; the Roman numeral first, which the intake keeps as the type.
FITZPATRICK_CHOICES = [
    "I – very fair: always burns, never tans",
    "II – fair: usually burns, tans a little",
    "III – medium: sometimes burns, tans evenly",
    "IV – olive: rarely burns, tans easily",
    "V – brown: very rarely burns, tans very easily",
    "VI – dark brown or black: never burns",
]
# Photoageing as a client can place theirs; the Roman numeral first, as for the skin type.
GLOGAU_CHOICES = [
    "I – no wrinkles",
    "II – lines when I smile or frown",
    "III – lines even when my face is still",
    "IV – lines all over, some deep",
]
SUN_EXPOSURE_CHOICES = ["Little: mostly indoors", "Some: weekends outdoors", "A lot: outdoors most days"]
INTAKE_CHOICES = {
    "fitzpatrick": FITZPATRICK_CHOICES,
    "glogau": GLOGAU_CHOICES,
    "sun-exposure": SUN_EXPOSURE_CHOICES,
}
INTAKE_CONCERNS = [
    "Acne scars on my cheeks",
    "Open pores",
    "Dull, tired-looking skin",
    "Uneven tone after the summer",
    "Fine lines",
    "Loss of firmness along the jaw",
    "Nothing in particular",
]
INTAKE_GOALS = [
    "Smoother skin",
    "Softer acne scars",
    "A firmer jawline",
    "Glow before my wedding",
    "Smaller-looking pores",
    "Fewer fine lines around the eyes",
]

CONSENT_TEXT = {
    "microneedling": (
        "Microneedling consent",
        "Procedure: fine needles create controlled micro-injuries to stimulate collagen.\n"
        "Expected benefit: smoother texture, softer scars and stretch marks, over a course of sessions.\n"
        "Risks: redness and swelling (common, 1–3 days); pinpoint bleeding (expected); flaking (common); "
        "infection, cold-sore flare, pigment change or scarring (rare).\n"
        "Alternatives: chemical peels, laser, topical treatments, or no treatment.\n"
        "Aftercare: gentle cleanser and hyaluronic hydrator only for 24 h; "
        "no sweating, sauna, swimming or sun; "
        "mineral SPF 30+ from day 2; resume retinoids and acids after day 5–7.\n"
        "I may withdraw my consent at any time. My medical history is complete and true.",
    ),
    "microcurrent": (
        "Microcurrent consent",
        "Procedure: low-level electrical current (below 1 mA) applied to facial muscles.\n"
        "Expected benefit: temporary toning and lift; best as a course then maintenance.\n"
        "Risks: tingling, mild redness, metallic taste (common); headache (uncommon).\n"
        "Alternatives: facial massage, other treatments, or no treatment.\n"
        "I have told the clinic about any pacemaker, implant, epilepsy, pregnancy or heart condition.\n"
        "I may withdraw my consent at any time. My medical history is complete and true.",
    ),
    "mesotherapy": (
        "Mesotherapy consent",
        "Procedure: micro-injections of small amounts of hyaluronic acid, vitamins or amino acids.\n"
        "Expected benefit: hydration and glow; scalp formulas support hair density over months.\n"
        "Risks: bruising and small bumps (common, days); allergy or infection (rare).\n"
        "Alternatives: needle-free infusion, topical care, or no treatment.\n"
        "Aftercare: no makeup for 6 h; no massage or device treatments for 3 days; "
        "no sauna, sunbed or beach.\n"
        "I may withdraw my consent at any time. My medical history is complete and true.",
    ),
}

FIRST_NAMES = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophia",
    "Grace",
    "Lily",
    "Freya",
    "Emily",
    "Ella",
    "Chloe",
    "Zara",
    "Aisha",
    "Priya",
    "Hannah",
    "Ruby",
    "Evie",
    "Poppy",
    "Maya",
    "Leah",
    "Nora",
    "Sienna",
    "Imogen",
    "Harper",
    "Jasmine",
    "Layla",
    "Rosie",
    "Erin",
    "Alice",
    "James",
    "Oliver",
    "Noah",
    "Leo",
    "Arjun",
    "Daniel",
    "Ethan",
    "Samuel",
    "Tom",
    "Kai",
]
# Who is never asked about pregnancy in the demo's answers.
MALE_FIRST_NAMES = {"James", "Oliver", "Noah", "Leo", "Arjun", "Daniel", "Ethan", "Samuel", "Tom", "Kai"}
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Lewis",
    "Harris",
    "Martin",
    "Cooper",
    "King",
    "Lee",
    "Baker",
    "Hill",
    "Morgan",
    "Okafor",
    "Nguyen",
    "Scott",
    "Adams",
    "Murphy",
    "Kelly",
    "Ali",
    "Moore",
    "Turner",
]


# --- demo photos ---------------------------------------------------------------------------------

DEMO_PHOTO_SIZE = 160


def demo_photo_png(redness: float) -> bytes:
    """A stand-in for a treatment photo, drawn here (no image library, nothing fetched): skin with a
    patch of redness, `redness` from 1 (a first visit) to 0 (all calmed), as a PNG."""
    size = DEMO_PHOTO_SIZE
    skin = (226, 184, 156)
    red = (206, 96, 92)
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # PNG filter: none
        for x in range(size):
            # an oval patch, strongest at its centre
            d = ((x - size * 0.5) / (size * 0.32)) ** 2 + ((y - size * 0.55) / (size * 0.22)) ** 2
            weight = max(0.0, 1.0 - d) * redness
            row += bytes(round(s + (r - s) * weight) for s, r in zip(skin, red, strict=True))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
