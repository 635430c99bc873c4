"""Name pools for sandbox people: accents and apostrophes on purpose."""
import unicodedata

GIVEN = ["Zoë", "José", "Chloé", "Renée", "Siobhán", "Łukasz", "Mateo", "Aaliyah", "Liam", "Noah",
         "Olivia", "Emma", "Ava", "Sofía", "Amélie", "Björn", "Dmitri", "Priya", "Wei", "Yuki",
         "Kwame", "Fatima", "Ángel", "Élodie", "Seán", "Maya", "Ethan", "Isabella", "Lucas", "Mia",
         "Jamal", "Nadia", "Oscar", "Paloma", "Quinn", "Rosa", "Tomás", "Uma", "Victor", "Xiomara"]
FAMILY = ["O'Brien", "García", "Müller", "Smith", "D'Angelo", "Núñez", "Kowalski", "Al-Sayed",
          "Van der Berg", "Nguyễn", "Johnson", "Williams", "Brown", "Jones", "Martínez", "Hernández",
          "López", "González", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Lee",
          "O'Connor", "Dubois", "Rossi", "Søren", "Okafor", "Patel", "Kim", "Chen", "Ramírez", "Cohen"]
MIDDLE = ["", "", "", "Ann", "Marie", "Lee", "José", "Renée", "James", "Grace"]


def ascii_slug(text: str) -> str:
    """Email-safe lower-case ASCII: Zoë O'Brien -> zoeobrien."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())
