//! Serving the app's pages to the signed-in user: the access layer (who may open which
//! page, from the page table) and the cache of rendered pages.

pub mod access;
pub mod page_cache;
