//! Zoho on 127.0.0.1, faithful to API_FACTS §3: the accounts server (OAuth), CRM
//! records/search/attachments and WorkDrive, for any number of orgs on one server (as
//! `www.zohoapis.com` serves every org: the access token says which).
//!
//! - Accounts: `POST /oauth/v2/token` (grant types `refresh_token`, `authorization_code`
//!   with PKCE S256 check, `device_token`), tokens live `token_ttl` (shorten it, or expire
//!   them mid-run with [`ZohoSimHandle::expire_tokens_after`]); a refresh token mints at
//!   most `refresh_limit` tokens per `refresh_window` (then `{"error":"Access Denied"}`).
//!   `GET /oauth/v2/auth` approves at once and redirects to `redirect_uri` with `code`,
//!   `state`, `location` and `accounts-server`. Device flow at `/oauth/v3/device/code` and
//!   `/oauth/v3/device/token` (approved on the second poll).
//! - CRM `/crm/{v2…v8}/…` with `Authorization: Zoho-oauthtoken`: `fields` mandatory from v3
//!   and at most 50; `per_page` ≤ 200; `page` reaches 2,000 records, `page_token` beyond;
//!   `If-Modified-Since` + `sort_by`; 204 when empty; search by criteria (matching words,
//!   like Zoho's `equals` on text: a local filter is needed); writes ≤ 100 per call with a
//!   result per record; attachments list (fields mandatory) and download.
//! - WorkDrive `/workdrive/api/v1/files/{id}/files` (children, `filter[type]`, paging)
//!   and `POST /upload` (multipart; 409 on a taken name when `override-name-exist=false`).
//!
//! Test hooks: seed, read back, a request log, counters, fault switches (tokens expiring
//! mid-run, 429 once, failing attachment downloads and uploads). Every request other than a
//! token request is searched for the clients' secrets ([`ZohoCounters::secret_leaks`]).

mod routes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use chrono::{FixedOffset, Utc};
use serde_json::{json, Map, Value as Json};

/// An OAuth client registered for one org, with the refresh token it was given.
#[derive(Clone, Debug)]
pub struct SimClient {
    pub org: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct ZohoSimOptions {
    pub port: u16,
    pub clients: Vec<SimClient>,
    pub token_ttl: Duration,
    pub refresh_limit: u32,
    pub refresh_window: Duration,
    /// `location` sent with the authorization redirect.
    pub location: String,
    /// Every API answer waits this long (to observe concurrent calls).
    pub latency: Duration,
}

impl Default for ZohoSimOptions {
    fn default() -> Self {
        let c = |org: &str| SimClient {
            org: org.into(),
            client_id: format!("1000.SIM{}CLIENT", org.to_uppercase()),
            client_secret: format!("sim-{org}-client-secret-8d1f"),
            refresh_token: format!("1000.sim-{org}-refresh-token-77c2"),
        };
        ZohoSimOptions { port: 0, clients: vec![c("a"), c("b")], token_ttl: Duration::from_secs(3600), refresh_limit: 10, refresh_window: Duration::from_secs(600), location: "us".into(), latency: Duration::ZERO }
    }
}

/// One request as the simulator saw it (never with secrets: path and query only).
#[derive(Clone, Debug, PartialEq)]
pub struct SimRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The org the access token belonged to.
    pub org: Option<String>,
    pub status: u16,
}

impl SimRequest {
    /// A request that changes data (CRM writes, WorkDrive uploads).
    pub fn is_write(&self) -> bool {
        self.method != "GET" && !self.path.starts_with("/oauth/")
    }
}

/// Counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZohoCounters {
    /// Token requests answered with a token, by grant type.
    pub tokens_issued: BTreeMap<String, u64>,
    /// Token requests that carried the right client secret.
    pub token_requests_with_secret: u64,
    /// Refreshes refused by the rate limit.
    pub refresh_refused: u64,
    pub unauthorized: u64,
    pub rate_limited: u64,
    /// Requests other than token requests that carried a client secret or refresh token
    /// anywhere (URL, headers, body): must stay 0.
    pub secret_leaks: u64,
    /// PKCE checks that passed.
    pub pkce_verified: u64,
    /// Most API calls in flight at once.
    pub max_in_flight: u64,
}

impl ZohoCounters {
    pub fn refreshes(&self) -> u64 {
        self.tokens_issued.get("refresh_token").copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
struct SimAttachment {
    id: String,
    record: String,
    file_name: String,
    bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
struct WdNode {
    id: String,
    name: String,
    parent: String,
    folder: bool,
    bytes: Vec<u8>,
    modified_ms: i64,
}

#[derive(Default)]
struct Org {
    /// module → id → record.
    modules: BTreeMap<String, BTreeMap<String, Map<String, Json>>>,
    attachments: Vec<SimAttachment>,
    nodes: BTreeMap<String, WdNode>,
    team_folder: String,
}

#[derive(Default)]
struct State_ {
    orgs: BTreeMap<String, Org>,
    seq: u64,
    tokens: HashMap<String, (String, Instant)>,
    minted: HashMap<String, VecDeque<Instant>>,
    codes: HashMap<String, (String, Option<String>, String)>,
    devices: HashMap<String, (String, u32)>,
    log: Vec<SimRequest>,
    counters: ZohoCounters,
    expire_after: Option<u64>,
    rate_limit_next: u32,
    fail_downloads: HashSet<String>,
    fail_uploads: HashSet<String>,
}

struct Shared {
    in_flight: std::sync::atomic::AtomicU64,
    opts: ZohoSimOptions,
    base_url: String,
    st: Mutex<State_>,
}

fn lock(m: &Mutex<State_>) -> MutexGuard<'_, State_> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `2026-01-02T08:30:00+05:30`: Zoho's times carry the user's offset.
fn zoho_time(t: chrono::DateTime<Utc>) -> String {
    let off = FixedOffset::east_opt(5 * 3600 + 1800).expect("valid offset");
    t.with_timezone(&off).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

impl State_ {
    fn next_id(&mut self) -> String {
        self.seq += 1;
        (5_725_767_000_000_000_000u64 + self.seq * 1001).to_string()
    }
}

/// The Zoho simulator.
pub struct ZohoSim;

impl ZohoSim {
    pub async fn spawn(opts: ZohoSimOptions) -> ZohoSimHandle {
        Self::try_spawn(opts).await.expect("could not start the Zoho simulator")
    }

    pub async fn try_spawn(opts: ZohoSimOptions) -> std::io::Result<ZohoSimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let mut st = State_::default();
        for c in &opts.clients {
            if !st.orgs.contains_key(&c.org) {
                let team = st.next_id();
                let mut org = Org { team_folder: team.clone(), ..Org::default() };
                org.nodes.insert(team.clone(), WdNode { id: team, name: format!("Team folder {}", c.org), parent: String::new(), folder: true, bytes: vec![], modified_ms: 0 });
                st.orgs.insert(c.org.clone(), org);
            }
        }
        let shared = Arc::new(Shared { in_flight: std::sync::atomic::AtomicU64::new(0), opts, base_url: base_url.clone(), st: Mutex::new(st) });
        let app = Router::new().fallback(routes::handle).with_state(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(ZohoSimHandle { base_url, shared, _server: server })
    }
}

/// A running simulator; dropping it stops the server.
pub struct ZohoSimHandle {
    /// Accounts server, CRM API domain and WorkDrive host in one.
    pub base_url: String,
    shared: Arc<Shared>,
    /// Held so that dropping the handle stops the server.
    _server: crate::Server,
}

impl ZohoSimHandle {
    fn st(&self) -> MutexGuard<'_, State_> {
        lock(&self.shared.st)
    }

    /// The OAuth client of `org`.
    pub fn client(&self, org: &str) -> SimClient {
        self.shared.opts.clients.iter().find(|c| c.org == org).cloned().expect("no such org in the simulator")
    }

    /// The WorkDrive team folder of `org`.
    pub fn team_folder(&self, org: &str) -> String {
        self.st().orgs.get(org).map(|o| o.team_folder.clone()).expect("no such org")
    }

    /// Inserts a record; returns its id. `Modified_Time` is now unless given.
    pub fn insert(&self, org: &str, module: &str, fields: Json) -> String {
        let mut st = self.st();
        let id = st.next_id();
        let mut m = fields.as_object().cloned().unwrap_or_default();
        m.insert("id".into(), json!(id));
        let now = zoho_time(Utc::now());
        m.entry("Created_Time").or_insert_with(|| json!(now));
        m.entry("Modified_Time").or_insert_with(|| json!(now));
        st.orgs.get_mut(org).expect("no such org").modules.entry(module.to_string()).or_default().insert(id.clone(), m);
        id
    }

    pub fn record(&self, org: &str, module: &str, id: &str) -> Option<Map<String, Json>> {
        self.st().orgs.get(org)?.modules.get(module)?.get(id).cloned()
    }

    pub fn records(&self, org: &str, module: &str) -> Vec<Map<String, Json>> {
        self.st().orgs.get(org).and_then(|o| o.modules.get(module)).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// Adds an attachment to a record; returns its id.
    pub fn add_attachment(&self, org: &str, record_id: &str, file_name: &str, bytes: &[u8]) -> String {
        let mut st = self.st();
        let id = st.next_id();
        st.orgs.get_mut(org).expect("no such org").attachments.push(SimAttachment { id: id.clone(), record: record_id.into(), file_name: file_name.into(), bytes: bytes.to_vec() });
        id
    }

    /// Adds a WorkDrive folder under `parent`; returns its id.
    pub fn add_folder(&self, org: &str, parent: &str, name: &str) -> String {
        self.add_node(org, parent, name, true, vec![])
    }

    /// Adds a file under `parent`.
    pub fn add_file(&self, org: &str, parent: &str, name: &str, bytes: &[u8]) -> String {
        self.add_node(org, parent, name, false, bytes.to_vec())
    }

    fn add_node(&self, org: &str, parent: &str, name: &str, folder: bool, bytes: Vec<u8>) -> String {
        let mut st = self.st();
        let id = format!("wd{}", st.next_id());
        let modified_ms = Utc::now().timestamp_millis() + st.seq as i64;
        st.orgs.get_mut(org).expect("no such org").nodes.insert(id.clone(), WdNode { id: id.clone(), name: name.into(), parent: parent.into(), folder, bytes, modified_ms });
        id
    }

    /// Files (name, bytes) directly inside a folder, by name.
    pub fn files_in(&self, org: &str, folder: &str) -> Vec<(String, Vec<u8>)> {
        let st = self.st();
        let mut v: Vec<(String, Vec<u8>)> = st.orgs.get(org).map(|o| o.nodes.values().filter(|n| n.parent == folder && !n.folder).map(|n| (n.name.clone(), n.bytes.clone())).collect()).unwrap_or_default();
        v.sort();
        v
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.st().log.clone()
    }

    pub fn clear_requests(&self) {
        self.st().log.clear();
    }

    pub fn counters(&self) -> ZohoCounters {
        self.st().counters.clone()
    }

    /// After `n` more authorised API requests every access token expires (the next call
    /// answers 401 INVALID_TOKEN): an access token expiring mid-run.
    pub fn expire_tokens_after(&self, n: u64) {
        self.st().expire_after = Some(n);
    }

    /// The next `n` API requests answer 429 TOO_MANY_REQUESTS.
    pub fn rate_limit_next(&self, n: u32) {
        self.st().rate_limit_next = n;
    }

    /// Downloading this attachment answers 500.
    pub fn fail_download(&self, attachment_id: &str) {
        self.st().fail_downloads.insert(attachment_id.into());
    }

    /// Uploading a file of this name answers 500.
    pub fn fail_upload(&self, file_name: &str) {
        self.st().fail_uploads.insert(file_name.into());
    }

    /// Sample data for `crosswalk-sim for zoho-zoho`: `n` deals in org A (checkbox false,
    /// one or two attachments each), the same deal names in org B, and a WorkDrive folder
    /// per deal in B's team folder — except every tenth deal, which has none.
    pub fn seed_transfer(&self, module: &str, n: usize) {
        let team = self.team_folder("b");
        for i in 0..n {
            let name = format!("Project {i:04}");
            let a = self.insert("a", module, json!({"Deal_Name": name, "Transfer_Complete": false, "WorkDrive_URL": format!("https://workdrive.zoho.com/folder/a{i}"), "WorkDrive_Folder_ID": format!("a-folder-{i}")}));
            self.add_attachment("a", &a, &format!("contract-{i}.pdf"), format!("%PDF contract {i}").as_bytes());
            if i % 2 == 0 {
                self.add_attachment("a", &a, "photo.jpg", format!("JPEG {i}").as_bytes());
            }
            self.insert("b", module, json!({"Deal_Name": name, "Record_Updated_From": null, "WorkDrive_URL": null, "WorkDrive_Folder_ID": null}));
            if i % 10 != 9 {
                self.add_folder("b", &team, &name);
            }
        }
    }
}
