//! How a resource's value travels from the server-rendered page to the browser.
//!
//! Leptos writes each resource's value into the page as JSON and reads it back when the
//! app takes over. Its default codec reads JSON from a `&str`, while server functions read
//! their answers from bytes: the browser bundle would hold two JSON readers for every type
//! that is both loaded by a page and answered by a server function. [`JsonBytes`] reads
//! from bytes too, so both share one (the release bundle's size budget, docs/frontend.md "First
//! load").

use leptos::{
    prelude::Resource,
    server::codee::{Decoder, Encoder},
};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON written as a string and read from its bytes (see the module documentation).
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A resource of a page: loaded on the server, carried in the page as JSON.
pub type Loaded<T> = Resource<T, JsonBytes>;

/// [`Resource::new`] with the [`JsonBytes`] codec.
#[track_caller]
pub fn load<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Loaded<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reads_back_as_it_was_written() {
        let value: Result<Vec<String>, String> = Ok(vec!["é \"quoted\"".to_owned()]);
        let text = <JsonBytes as Encoder<_>>::encode(&value).expect("encodes");
        let back: Result<Vec<String>, String> = <JsonBytes as Decoder<_>>::decode(&text).expect("decodes");
        assert_eq!(back, value);
        assert!(<JsonBytes as Decoder<Vec<u8>>>::decode("{").is_err());
    }
}
