//! Gatehouse: production-grade authentication for a Leptos application.
//!
//! The crate builds twice: as a WebAssembly library (`hydrate`) that takes over the
//! server-rendered page in the browser, and as the server binary (`ssr`) that renders
//! pages, answers server functions and owns the database.

#![recursion_limit = "256"]

// The server renders the HTML the browser's app hydrates; leptos' `erase_components`
// changes that HTML's structure, so both sides must be built with it or hydration panics
// on every page (`.cargo/config.toml` sets it; a `RUSTFLAGS` of one's own replaces that).
#[cfg(all(any(feature = "ssr", feature = "hydrate"), not(erase_components)))]
compile_error!(
    "build with `--cfg erase_components` in the rust flags (see .cargo/config.toml): the \
     server and the browser bundle must render alike, or hydration fails"
);

pub mod api;
pub mod app;
pub mod components;
pub mod domain;
pub mod model;
pub mod page;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WebAssembly bundle: attaches the reactive app to the server's HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic in the browser says what failed and where, in every build: without a hook
    // a release bundle only shows `RuntimeError: unreachable`. Debug builds add the
    // JavaScript stack; the release one writes the message alone (a few hundred bytes).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    #[cfg(not(debug_assertions))]
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("gatehouse panicked: {info}").into());
    }));
    // Asynchronous: a page split out of the main bundle is fetched before its HTML is
    // hydrated (see `app`).
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // A marker tests wait on instead of sleeping: the page is interactive from here on.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
