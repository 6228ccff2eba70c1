//! Times as the visitor reads them. The server renders a `<time>` in UTC, labelled so
//! (without JavaScript that is what stays); once the page is hydrated, the browser
//! rewrites its text in the visitor's own time zone and language. The `datetime`
//! attribute always holds the exact instant.

use crate::model::{format_date, format_datetime, time_of_day};
use leptos::prelude::*;

/// Unix seconds as an RFC 3339 instant in UTC, e.g. `2026-11-23T14:05:09Z`.
pub fn machine_time(unix_seconds: i64) -> String {
    let (hour, minute, second) = time_of_day(unix_seconds);
    format!("{}T{hour:02}:{minute:02}:{second:02}Z", format_date(unix_seconds))
}

/// A moment (`at`, unix seconds): date and minute, or with `date_only` the day alone.
#[component]
pub fn LocalTime(at: i64, #[prop(optional)] date_only: bool) -> impl IntoView {
    let utc = if date_only {
        format_date(at)
    } else {
        format_datetime(at)
    };
    let text = RwSignal::new(utc);
    // Effects run only in the browser, after hydration: the first render matches the
    // server's HTML, then the text turns local.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(local) = local_text(at, date_only) {
            text.set(local);
        }
    });
    view! { <time datetime=machine_time(at)>{move || text.get()}</time> }
}

/// The moment in the browser's time zone and language: "Nov 23, 2026, 03:05 PM GMT+1".
#[cfg(feature = "hydrate")]
fn local_text(at: i64, date_only: bool) -> Option<String> {
    use wasm_bindgen::JsValue;
    let language = web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".to_owned());
    let options = js_sys::Object::new();
    let mut fields = vec![("year", "numeric"), ("month", "short"), ("day", "numeric")];
    if !date_only {
        fields.extend([
            ("hour", "2-digit"),
            ("minute", "2-digit"),
            ("timeZoneName", "short"),
        ]);
    }
    for (name, value) in fields {
        js_sys::Reflect::set(&options, &JsValue::from_str(name), &JsValue::from_str(value)).ok()?;
    }
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&JsValue::from_f64(at as f64 * 1000.0));
    // An unknown language tag throws; the browser's own always works.
    let text = if date_only {
        date.to_locale_date_string(&language, &options)
    } else {
        date.to_locale_string(&language, &options)
    };
    text.as_string().filter(|t| !t.is_empty() && t != "Invalid Date")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_form_is_rfc_3339_utc() {
        assert_eq!(machine_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(machine_time(1_795_442_709), "2026-11-23T14:05:09Z");
    }
}
