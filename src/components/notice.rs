//! Whole-page notices: not found, forbidden, unexpected error.

use crate::model::{AppError, ErrorKind, MSG_FORBIDDEN};
use leptos::prelude::*;
use leptos_meta::Title;

/// Sets the HTTP status of the page being rendered on the server; nothing in the browser.
pub fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    crate::server::error::set_page_status(status);
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Page not found" />
        <section class="card notice">
            <p class="status-code">"404"</p>
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <p>
                <a class="button" href="/">"Back to the home page"</a>
            </p>
        </section>
    }
}

#[component]
pub fn Forbidden() -> impl IntoView {
    set_status(403);
    view! {
        <Title text="Forbidden" />
        <section class="card notice">
            <p class="status-code">"403"</p>
            <h1>"Not allowed"</h1>
            <p role="alert">{MSG_FORBIDDEN}</p>
            <p>
                <a class="button" href="/profile">"Go to your profile"</a>
            </p>
        </section>
    }
}

/// A failure while loading a page's data: the message (which carries the request id for
/// internal errors) and the matching status.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    set_status(error.status());
    let heading = match error.kind {
        ErrorKind::Internal => "Something went wrong",
        ErrorKind::Unavailable => "Temporarily unavailable",
        ErrorKind::NotFound => "Not found",
        ErrorKind::Forbidden => "Not allowed",
        _ => "That did not work",
    };
    view! {
        <Title text=heading />
        <section class="card notice">
            <p class="status-code">{error.status()}</p>
            <h1>{heading}</h1>
            <p role="alert">{error.message}</p>
        </section>
    }
}
