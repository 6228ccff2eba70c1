//! Serving the app's pages to the signed-in user: the access layer (who may open which
//! page, from the page table), the cache of rendered pages, and the names of the site's
//! built files.

pub mod access;
pub mod files;
pub mod page_cache;
pub mod scrape;
