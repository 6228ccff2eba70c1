//! One file per page.

pub mod admin;
pub mod email;
pub mod home;
pub mod login;
pub mod members;
pub mod not_found;
pub mod profile;
pub mod reauth;
pub mod security;
pub mod settings;
pub mod signup;
pub mod two_factor;
