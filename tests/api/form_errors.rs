//! A form posted without JavaScript comes back to its page with its error and the typed
//! username: the username in a sealed one-read cookie (never in the address, where a
//! password typed into the wrong field would end up in histories and proxy logs), the
//! error tagged so that nobody can link to a page showing a message of their own.

use crate::helpers::{expect_status, location, new_client, set_cookies, TestApp};
use base64::Engine;
use reqwest::StatusCode;

const TYPED: &str = "hunter2-typed-in-the-wrong-field";

async fn a_failed_form_keeps_the_typed_username_out_of_the_address(app: TestApp) {
    let browser = new_client();
    let response = app
        .post_form_with(
            &browser,
            "/api/login",
            &[("username", TYPED), ("password", "whatever-it-is"), ("next", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert!(back.starts_with(&app.url("/login?")), "{back}");
    assert!(
        !back.contains("hunter2"),
        "the typed name is not in the address: {back}"
    );
    let json = error_in(&back);
    assert!(!json.contains("hunter2"), "nor in the error: {json}");
    let flash = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("gatehouse_flash="))
        .expect("a flash cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=60", "Path=/"] {
        assert!(flash.contains(attribute), "{attribute}: {flash}");
    }
    assert!(!flash.contains("hunter2"), "sealed: {flash}");

    let page = expect_status(browser.get(&back).send().await.expect("GET"), StatusCode::OK).await;
    assert!(page.contains("Incorrect username or password"), "{page}");
    assert!(page.contains(&format!("value=\"{TYPED}\"")), "{page}");
    let again = expect_status(browser.get(&back).send().await.expect("GET"), StatusCode::OK).await;
    assert!(
        again.contains("Incorrect username or password"),
        "the error stays in its address"
    );
    assert!(
        !again.contains(TYPED),
        "the typed username is shown once: {again}"
    );
}

/// The JSON error a redirect address carries in `__err`.
fn error_in(address: &str) -> String {
    let url = url::Url::parse(address).expect("url");
    let encoded = url
        .query_pairs()
        .find(|(k, _)| k == "__err")
        .map(|(_, v)| v.into_owned())
        .expect("__err");
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

async fn a_crafted_error_in_an_address_is_never_shown(app: TestApp) {
    let message = r#"{"kind":"bad_request","message":"Your account is suspended. Call +1 555 0100."}"#;
    let err = base64::engine::general_purpose::URL_SAFE.encode(message);
    let genuine_response = app
        .post_form_with(
            &new_client(),
            "/api/login",
            &[
                ("username", "nobody"),
                ("password", "whatever-it-is"),
                ("next", ""),
            ],
        )
        .await;
    let genuine = location(&genuine_response);
    let genuine_sig = url::Url::parse(&genuine)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "__sig")
        .map(|(_, v)| v.into_owned())
        .expect("the server tags its error links");
    for crafted in [
        format!("/login?next=/members&__path=/api/login&__err={err}"),
        format!("/login?next=/members&__path=/api/login&__err={err}&__sig={genuine_sig}"),
        format!("/signup?__path=/api/signup&__err={err}&__sig=AAAA"),
    ] {
        let response = app.get(&crafted).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{crafted}");
        let clean = location(&response);
        assert!(!clean.contains("__err") && !clean.contains("__sig"), "{clean}");
        let page = expect_status(app.get(&clean).await, StatusCode::OK).await;
        assert!(!page.contains("suspended"), "{page}");
    }
    assert_eq!(
        location(
            &app.get(&format!("/login?next=/members&__path=/api/login&__err={err}"))
                .await
        ),
        "/login?next=/members",
        "other parameters are kept"
    );
    // The server's own link still shows its error.
    let page = expect_status(
        new_client().get(&genuine).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Incorrect username or password"), "{page}");
}

/// The plain sign-in page is kept in the page cache for every anonymous visitor: a
/// typed username must never get into it, even with the flash cookie present.
async fn the_plain_sign_in_page_never_shows_a_typed_username(app: TestApp) {
    let browser = new_client();
    app.post_form_with(
        &browser,
        "/api/login",
        &[("username", TYPED), ("password", "whatever-it-is"), ("next", "")],
    )
    .await;
    for client in [&browser, &new_client(), &browser] {
        let page = expect_status(
            client.get(app.url("/login")).send().await.expect("GET"),
            StatusCode::OK,
        )
        .await;
        assert!(!page.contains(TYPED), "{page}");
    }
}

/// The tag of the element whose attribute `marker` (e.g. `name="username"`) is in it.
fn tag_with<'a>(page: &'a str, marker: &str) -> &'a str {
    let at = page.find(marker).unwrap_or_else(|| panic!("{marker} in {page}"));
    let start = page[..at].rfind('<').expect("tag start");
    let end = at + page[at..].find('>').expect("tag end");
    &page[start..=end]
}

/// A refused form marks the field the error is about — `aria-invalid`, described by the
/// message, `autofocus` — and, when the error is about no field (a failed sign-in says
/// nothing about which one was wrong), the message takes the focus. Without JavaScript
/// this is the page the redirect leads to; the JSON error names the field for the app.
async fn a_refused_field_is_marked_invalid_and_takes_the_focus(app: TestApp) {
    app.signed_up("alice").await;
    let browser = new_client();
    let refused = app
        .post_form_with(
            &browser,
            "/api/signup",
            &[("username", "alice"), ("password", crate::helpers::GOOD_PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = location(&refused);
    assert!(error_in(&back).contains("\"field\":\"username\""), "{back}");
    let page = expect_status(browser.get(&back).send().await.expect("GET"), StatusCode::OK).await;
    let username = tag_with(&page, "name=\"username\"");
    for attribute in ["aria-invalid=\"true\"", "autofocus", "signup-error"] {
        assert!(username.contains(attribute), "{attribute}: {username}");
    }
    assert!(
        username.contains("aria-describedby=\"field-username-hint signup-error\""),
        "{username}"
    );
    let message = tag_with(&page, "data-testid=\"form-error\"");
    assert!(
        message.contains("id=\"signup-error\"") && !message.contains("autofocus"),
        "{message}"
    );
    let password = tag_with(&page, "name=\"password\"");
    assert!(
        !password.contains("aria-invalid") && !password.contains("autofocus"),
        "{password}"
    );

    // A weak password: the password field.
    let weak = app
        .call_with(
            &new_client(),
            "signup",
            &[("username", "bob-new"), ("password", "password")],
        )
        .await;
    let body = expect_status(weak, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("\"field\":\"password\""), "{body}");

    // A failed sign-in: no field is named; the message takes the focus.
    let failed = app
        .post_form_with(
            &browser,
            "/api/login",
            &[
                ("username", "alice"),
                ("password", "not-her-password"),
                ("next", ""),
            ],
        )
        .await;
    let back = location(&failed);
    assert!(!error_in(&back).contains("field"), "{back}");
    let page = expect_status(browser.get(&back).send().await.expect("GET"), StatusCode::OK).await;
    let message = tag_with(&page, "data-testid=\"form-error\"");
    assert!(
        message.contains("autofocus") && message.contains("tabindex=\"-1\""),
        "{message}"
    );
    assert!(!page.contains("aria-invalid"), "{page}");
}

db_tests!(
    a_refused_field_is_marked_invalid_and_takes_the_focus,
    a_failed_form_keeps_the_typed_username_out_of_the_address,
    a_crafted_error_in_an_address_is_never_shown,
    the_plain_sign_in_page_never_shows_a_typed_username,
);
