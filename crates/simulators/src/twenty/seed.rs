//! Realistic fake companies and people, the same for the same seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};

const ADJ: &[&str] = &["Blue", "North", "Bright", "Silver", "Green", "Rapid", "Golden", "Clear", "Iron", "Swift", "Cedar", "Summit", "Harbor", "Maple", "Atlas", "Nova", "Pioneer", "Sterling", "Urban", "Vertex"];
const NOUN: &[&str] = &["River", "Peak", "Stone", "Field", "Bridge", "Wave", "Forge", "Point", "Leaf", "Path", "Crest", "Grove", "Light", "Works", "Gate", "Bay", "Ridge", "Line", "Hill", "Spring"];
const KIND: &[&str] = &["Logistics", "Software", "Foods", "Consulting", "Energy", "Labs", "Retail", "Health", "Capital", "Media"];
const FIRST: &[&str] = &["Anna", "Bram", "Chloé", "Daan", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wout", "Xena", "Yusuf", "Zoë"];
const LAST: &[&str] = &["Jansen", "de Vries", "Müller", "Martin", "Rossi", "García", "Novak", "Kowalski", "Nielsen", "Dubois", "Smith", "Tanaka", "Okafor", "Haddad", "Silva", "Berg", "Costa", "Lindqvist", "Moreau", "Visser"];
const CITY: &[(&str, &str)] = &[("Amsterdam", "Netherlands"), ("Paris", "France"), ("Berlin", "Germany"), ("Lisbon", "Portugal"), ("Milan", "Italy"), ("Madrid", "Spain"), ("Oslo", "Norway"), ("Dublin", "Ireland"), ("Vienna", "Austria"), ("Tehran", "Iran")];
const TITLE: &[&str] = &["CEO", "CFO", "Head of Sales", "Account Manager", "Engineer", "Office Manager", "Buyer", "Marketing Lead", "Founder", "Controller"];
const CURRENCY: &[&str] = &["EUR", "USD", "GBP"];

/// Company bodies: distinct names, domains, ARR with cents, addresses.
pub fn companies(rng: &mut StdRng, n: usize, offset: usize) -> Vec<Json> {
    (0..n)
        .map(|k| {
            let i = offset + k;
            let base = format!("{} {} {}", ADJ[i % ADJ.len()], NOUN[(i / ADJ.len()) % NOUN.len()], KIND[(i / (ADJ.len() * NOUN.len())) % KIND.len()]);
            let round = i / (ADJ.len() * NOUN.len() * KIND.len());
            let name = if round == 0 { base } else { format!("{base} {}", round + 1) };
            let slug: String = name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let (city, country) = CITY[rng.gen_range(0..CITY.len())];
            let cents: i64 = rng.gen_range(1_000_000..500_000_000);
            json!({
                "name": name,
                "domainName": {"primaryLinkUrl": format!("https://{slug}.example.com"), "primaryLinkLabel": ""},
                "employees": rng.gen_range(1..5000),
                "annualRecurringRevenue": {"amountMicros": cents * 10_000, "currencyCode": CURRENCY[rng.gen_range(0..CURRENCY.len())]},
                "address": {"addressStreet1": format!("{} Main Street", rng.gen_range(1..300)), "addressCity": city, "addressCountry": country, "addressPostcode": format!("{:05}", rng.gen_range(1000..99999))},
                "idealCustomerProfile": rng.gen_bool(0.2),
                "linkedinLink": {"primaryLinkUrl": format!("https://www.linkedin.com/company/{slug}"), "primaryLinkLabel": ""},
            })
        })
        .collect()
}

/// Person bodies, each at one of `company_ids` (when there are any).
pub fn people(rng: &mut StdRng, n: usize, offset: usize, company_ids: &[String]) -> Vec<Json> {
    (0..n)
        .map(|k| {
            let i = offset + k;
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len()) % LAST.len()];
            let email_local: String = format!("{first}.{last}.{i}").to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
            let (city, _) = CITY[rng.gen_range(0..CITY.len())];
            let mut p = json!({
                "name": {"firstName": first, "lastName": last},
                "emails": {"primaryEmail": format!("{email_local}@example.org"), "additionalEmails": []},
                "phones": {"primaryPhoneNumber": format!("6{:08}", rng.gen_range(0..99_999_999)), "primaryPhoneCountryCode": "NL", "primaryPhoneCallingCode": "+31"},
                "jobTitle": TITLE[rng.gen_range(0..TITLE.len())],
                "city": city,
            });
            if !company_ids.is_empty() {
                p["companyId"] = json!(company_ids[rng.gen_range(0..company_ids.len())]);
            }
            p
        })
        .collect()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}
