//! The objects the simulated workspace has, as the metadata API describes them.

use serde_json::{json, Map, Value as Json};

/// A field of a simulated object.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    /// Twenty's field type (`TEXT`, `FULL_NAME`, `RELATION`, …).
    pub ty: &'static str,
    pub system: bool,
    /// For a many-to-one relation: (target object plural, join column).
    pub relation: Option<(&'static str, &'static str)>,
}

/// An object of the simulated workspace.
#[derive(Clone, Debug)]
pub struct ObjectDef {
    pub singular: &'static str,
    pub plural: &'static str,
    pub label_singular: &'static str,
    pub label_plural: &'static str,
    pub fields: Vec<FieldDef>,
}

const fn f(name: &'static str, label: &'static str, ty: &'static str) -> FieldDef {
    FieldDef { name, label, ty, system: false, relation: None }
}
const fn sys(name: &'static str, label: &'static str, ty: &'static str) -> FieldDef {
    FieldDef { name, label, ty, system: true, relation: None }
}

fn base_fields() -> Vec<FieldDef> {
    vec![
        sys("id", "Id", "UUID"),
        sys("createdAt", "Creation date", "DATE_TIME"),
        sys("updatedAt", "Last update", "DATE_TIME"),
        sys("deletedAt", "Deleted at", "DATE_TIME"),
        sys("position", "Position", "POSITION"),
        f("createdBy", "Created by", "ACTOR"),
        sys("searchVector", "Search vector", "TS_VECTOR"),
    ]
}

/// The standard `companies` and `people` objects.
pub fn standard_objects() -> Vec<ObjectDef> {
    let mut company = base_fields();
    company.extend([
        f("name", "Name", "TEXT"),
        f("domainName", "Domain", "LINKS"),
        f("employees", "Employees", "NUMBER"),
        f("linkedinLink", "Linkedin", "LINKS"),
        f("xLink", "X", "LINKS"),
        f("annualRecurringRevenue", "ARR", "CURRENCY"),
        f("address", "Address", "ADDRESS"),
        f("idealCustomerProfile", "ICP", "BOOLEAN"),
        FieldDef { name: "accountOwner", label: "Account Owner", ty: "RELATION", system: false, relation: Some(("workspaceMembers", "accountOwnerId")) },
    ]);
    let mut person = base_fields();
    person.extend([
        f("name", "Name", "FULL_NAME"),
        f("emails", "Emails", "EMAILS"),
        f("phones", "Phones", "PHONES"),
        f("linkedinLink", "Linkedin", "LINKS"),
        f("xLink", "X", "LINKS"),
        f("jobTitle", "Job Title", "TEXT"),
        f("city", "City", "TEXT"),
        f("avatarUrl", "Avatar", "TEXT"),
        FieldDef { name: "company", label: "Company", ty: "RELATION", system: false, relation: Some(("companies", "companyId")) },
    ]);
    vec![
        ObjectDef { singular: "company", plural: "companies", label_singular: "Company", label_plural: "Companies", fields: company },
        ObjectDef { singular: "person", plural: "people", label_singular: "Person", label_plural: "People", fields: person },
    ]
}

impl ObjectDef {
    /// Whether `key` may appear at the top level of a record body or a filter.
    pub fn knows(&self, key: &str) -> bool {
        self.fields.iter().any(|f| f.name == key || f.relation.is_some_and(|(_, col)| col == key))
    }

    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == key)
    }

    /// A new record's value for every field before the body is applied.
    pub fn defaults(&self) -> Map<String, Json> {
        let mut m = Map::new();
        for fd in &self.fields {
            if let Some((_, col)) = fd.relation {
                m.insert(col.to_string(), Json::Null);
                continue;
            }
            let v = match fd.ty {
                "TEXT" => json!(""),
                "FULL_NAME" => json!({"firstName": "", "lastName": ""}),
                "EMAILS" => json!({"primaryEmail": "", "additionalEmails": null}),
                "PHONES" => json!({"primaryPhoneNumber": "", "primaryPhoneCountryCode": "", "primaryPhoneCallingCode": "", "additionalPhones": null}),
                "LINKS" => json!({"primaryLinkUrl": "", "primaryLinkLabel": "", "secondaryLinks": null}),
                "CURRENCY" => json!({"amountMicros": null, "currencyCode": ""}),
                "ADDRESS" => json!({"addressStreet1": "", "addressStreet2": "", "addressCity": "", "addressState": "", "addressCountry": "", "addressPostcode": "", "addressLat": null, "addressLng": null}),
                "BOOLEAN" => json!(false),
                "ACTOR" | "TS_VECTOR" | "UUID" | "DATE_TIME" | "POSITION" | "NUMBER" => Json::Null,
                _ => Json::Null,
            };
            m.insert(fd.name.to_string(), v);
        }
        m.remove("searchVector");
        m
    }

    /// This object as `GET /rest/metadata/objects` lists it.
    pub fn metadata(&self) -> Json {
        let fields: Vec<Json> = self
            .fields
            .iter()
            .map(|fd| {
                let mut j = json!({
                    "id": stable_uuid(&format!("{}.{}", self.plural, fd.name)),
                    "name": fd.name, "label": fd.label, "type": fd.ty,
                    "isSystem": fd.system, "isActive": true, "isCustom": false, "isNullable": true,
                    "defaultValue": null, "options": null,
                });
                if let Some((target, col)) = fd.relation {
                    j["settings"] = json!({"relationType": "MANY_TO_ONE", "joinColumnName": col});
                    j["relation"] = json!({"type": "MANY_TO_ONE", "targetObjectMetadata": {"namePlural": target}});
                }
                j
            })
            .collect();
        json!({
            "id": stable_uuid(self.plural),
            "nameSingular": self.singular, "namePlural": self.plural,
            "labelSingular": self.label_singular, "labelPlural": self.label_plural,
            "isActive": true, "isSystem": false, "isCustom": false,
            "fields": fields,
        })
    }
}

/// `createCompany`, `updatePeople`…: the operation word and the capitalised object name.
pub fn op_key(op: &str, name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => format!("{op}{}{}", first.to_uppercase(), c.as_str()),
        None => op.to_string(),
    }
}

/// A UUID that is the same on every run for the same name (metadata ids).
fn stable_uuid(name: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(name.as_bytes());
    uuid::Builder::from_random_bytes(d[..16].try_into().expect("16 bytes")).into_uuid().to_string()
}
