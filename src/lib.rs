//! Gatehouse: production-grade authentication for a Leptos application.
//!
//! The crate builds twice: as a WebAssembly library (`hydrate`) that takes over the
//! server-rendered page in the browser, and as the server binary (`ssr`) that renders
//! pages, answers server functions and owns the database.

#![recursion_limit = "256"]

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
    // Panic messages in the browser console, in debug builds: the hook's formatting
    // machinery is left out of the release bundle (its size budget).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
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
