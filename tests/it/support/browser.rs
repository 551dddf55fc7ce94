//! A browser for page tests: its own cookie jar, no automatic redirects, real forms with
//! the CSRF token.

use reqwest::StatusCode;

use super::TestApp;

/// One browser: its own cookie jar, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

/// The value of the first hidden `csrf` field in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("page has a csrf field");
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"").expect("csrf value") + 7;
    tag[v..v + tag[v..].find('"').unwrap()].to_string()
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    /// A browser signed in as `username` (password as `TestApp::user` sets it).
    pub async fn signed_in(app: &TestApp, username: &str) -> Browser {
        let b = Browser::new(app);
        let (_, html) = b.get("/login").await;
        let csrf = csrf_of(&html);
        let resp = b
            .post(
                "/login",
                &[
                    ("username", username),
                    ("password", "correct horse battery"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{username} signs in");
        b
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of this browser's session (from a page with forms).
    pub async fn csrf(&self) -> String {
        let (status, html) = self.get("/dashboard").await;
        assert_eq!(status, StatusCode::OK);
        csrf_of(&html)
    }

    /// Posts a form with the CSRF token added.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post(path, &all).await
    }
}
