//! Pieces shared by pages.

pub mod footer;
pub mod form;
pub mod guard;
pub mod nav;
pub mod notice;
pub mod oauth;
