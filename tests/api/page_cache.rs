//! Reused pages: every answer carries a nonce of its own and is otherwise the very page a
//! fresh render gives; a change to the user shows on the next request; the session and
//! guard layers still decide who gets a page.

use crate::helpers::{expect_status, location, new_client, TestApp};
use gatehouse::server::site::page_cache::Reuse;
use reqwest::{header, Client, StatusCode};

/// The script nonce a page's policy allows.
fn nonce_of(response: &reqwest::Response) -> String {
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("policy is text");
    let start = policy.find("'nonce-").expect("a nonce in the policy") + "'nonce-".len();
    let length = policy[start..].find('\'').expect("nonce ends");
    policy[start..start + length].to_owned()
}

/// A page from `base` as `client` sees it: its nonce, and its text with the nonce
/// replaced by a marker. The nonce must be on the page's scripts.
async fn page(client: &Client, base: &str, path: &str) -> (String, String) {
    let response = client.get(format!("{base}{path}")).send().await.expect("GET");
    let nonce = nonce_of(&response);
    let body = expect_status(response, StatusCode::OK).await;
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "{path}: scripts carry the policy's nonce"
    );
    let marked = body.replace(&nonce, "NONCE");
    (nonce, marked)
}

async fn reused_pages_carry_their_own_nonce_and_equal_a_fresh_render(app: TestApp) {
    // The same database served without a page cache renders every page afresh.
    let fresh = app.second_instance(&[("GATEHOUSE_PAGE_CACHE_MIB", "0")]).await;
    let compare = |paths: &'static [&'static str], client: Client| {
        let (base, fresh_base) = (app.base.clone(), fresh.base.clone());
        async move {
            for path in paths {
                let (first_nonce, first) = page(&client, &base, path).await;
                let (second_nonce, second) = page(&client, &base, path).await;
                let (_, rendered) = page(&client, &fresh_base, path).await;
                assert_ne!(first_nonce, second_nonce, "{path}: a new nonce every time");
                assert!(
                    !second.contains(&first_nonce),
                    "{path}: no trace of the earlier nonce"
                );
                assert_eq!(first, second, "{path}: the same page");
                assert_eq!(second, rendered, "{path}: the page a fresh render gives");
            }
        }
    };
    compare(&["/", "/login", "/signup"], new_client()).await;
    // Cookies are kept per host, not per port: this client is signed in on both servers.
    let ada = app.signed_up_with_new_client("ada").await;
    compare(&["/", "/profile", "/members"], ada).await;
}

async fn a_change_to_the_user_shows_on_the_next_page(app: TestApp) {
    let ada = app.signed_up_with_new_client("ada").await;
    let (_, before) = page(&ada, &app.base, "/profile").await;
    assert!(before.contains("data-testid=\"profile-role\">user<"), "{before}");
    assert!(!before.contains("Ada Lovelace"));
    let id = app.user_id("ada").await;
    app.execute(&format!(
        "UPDATE users SET role = 'admin', display_name = 'Ada Lovelace' WHERE id = {id}"
    ))
    .await;
    let (_, after) = page(&ada, &app.base, "/profile").await;
    assert!(after.contains("data-testid=\"profile-role\">admin<"), "{after}");
    assert!(after.contains("Ada Lovelace"), "{after}");
    let (_, home) = page(&ada, &app.base, "/").await;
    assert!(home.contains("Signed in as <strong>ada<"), "{home}");

    // Another user gets a page of their own.
    let bob = app.signed_up_with_new_client("bob").await;
    let (_, theirs) = page(&bob, &app.base, "/profile").await;
    assert!(
        theirs.contains("data-testid=\"profile-username\">bob<"),
        "{theirs}"
    );
    assert!(!theirs.contains("ada"), "{theirs}");

    // A role too low for a page is refused every time, not served from an earlier answer.
    app.execute(&format!("UPDATE users SET role = 'none' WHERE id = {id}"))
        .await;
    for _ in 0..2 {
        let response = ada.get(app.url("/members")).send().await.expect("GET");
        expect_status(response, StatusCode::FORBIDDEN).await;
    }

    // Signed out, the guard answers before any page, cached or not.
    let response = app.call_with(&ada, "logout", &[]).await;
    expect_status(response, StatusCode::OK).await;
    let response = ada.get(app.url("/profile")).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/login?next="),
        "{}",
        location(&response)
    );
    let (_, home) = page(&ada, &app.base, "/").await;
    assert!(!home.contains("Signed in as"), "{home}");
}

async fn a_query_string_is_never_answered_from_a_page_without_it(app: TestApp) {
    let client = new_client();
    let (_, plain) = page(&client, &app.base, "/login").await;
    assert!(plain.contains("name=\"next\" value=\"\""), "{plain}");
    let (_, with_next) = page(&client, &app.base, "/login?next=/members").await;
    assert!(
        with_next.contains("name=\"next\" value=\"/members\""),
        "{with_next}"
    );
    let (_, again) = page(&client, &app.base, "/login").await;
    assert_eq!(plain, again);
}

/// The release path (kept pages answered without rendering; debug builds render every
/// reuse again to check it): each user gets their own page, a role change gives a new
/// page, and every answer has its own nonce.
async fn the_release_path_answers_each_user_with_their_own_page(app: TestApp) {
    app.state.page_cache.set_reuse(Reuse::Trusted);
    let ada = app.signed_up_with_new_client("ada").await;
    let bob = app.signed_up_with_new_client("bob").await;
    let hits = app.state.page_cache.hits();
    let mut nonces = Vec::new();
    for _ in 0..3 {
        for (client, me, other) in [(&ada, "ada", "bob"), (&bob, "bob", "ada")] {
            let (nonce, body) = page(client, &app.base, "/profile").await;
            assert!(
                body.contains(&format!("data-testid=\"profile-username\">{me}<")),
                "{body}"
            );
            assert!(
                !body.contains(&format!(">{other}<")),
                "{me} never sees {other}'s page"
            );
            nonces.push(nonce);
        }
    }
    assert_eq!(
        app.state.page_cache.hits() - hits,
        4,
        "the last two rounds came from kept pages"
    );
    let count = nonces.len();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), count, "every answer has its own nonce");

    let (_, before) = page(&ada, &app.base, "/profile").await;
    assert!(before.contains("data-testid=\"profile-role\">user<"), "{before}");
    app.execute("UPDATE users SET role = 'admin' WHERE username_key = 'ada'")
        .await;
    let (_, after) = page(&ada, &app.base, "/profile").await;
    assert!(after.contains("data-testid=\"profile-role\">admin<"), "{after}");
    assert!(
        after.contains("href=\"/admin\""),
        "the navigation follows the role"
    );
    let (_, bobs) = page(&bob, &app.base, "/profile").await;
    assert!(bobs.contains("data-testid=\"profile-role\">user<"), "{bobs}");
}

db_tests!(
    the_release_path_answers_each_user_with_their_own_page,
    reused_pages_carry_their_own_nonce_and_equal_a_fresh_render,
    a_change_to_the_user_shows_on_the_next_page,
    a_query_string_is_never_answered_from_a_page_without_it,
);
