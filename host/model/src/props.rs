//! What a llama.cpp server says of itself (`GET /props`), read once per
//! client, best effort: a server whose chat template cannot render tools
//! drops the `tools` array without a word (SmolLM2's own template does), so
//! the model never calls one and a run looks merely unlucky. Any other
//! server answers 404 or something else, and nothing is said.

use std::time::Duration;

use serde_json::Value;

/// How long the look may take: it delays the first call only.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);

/// Where a server of `base_url` (`.../v1`) serves `/props`: at its root.
pub(crate) fn url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    format!("{}/props", base.strip_suffix("/v1").unwrap_or(base))
}

/// Whether `props` say the chat template cannot take tools; `false` when
/// they do not say (not llama.cpp, or a version without the field).
pub(crate) fn drops_tools(props: &Value) -> bool {
    props
        .pointer("/chat_template_caps/supports_tools")
        .and_then(Value::as_bool)
        == Some(false)
}

/// The warning for a server that drops tools, naming the fixes.
pub(crate) const DROPS_TOOLS: &str = "the server's chat template cannot take tools \
    (llama.cpp's /props: chat_template_caps.supports_tools is false): the tools plinth \
    sends are dropped and the model will not call them. Run with --text-actions (actions \
    written as text), or start llama-server with --jinja --chat-template-file FILE, a \
    template that renders tools";

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(text: &str) -> Value {
        serde_json::from_str::<Value>(text).unwrap()["response"].clone()
    }

    #[test]
    fn the_real_servers_props_say_whether_tools_are_dropped() {
        let own = fixture(include_str!("../../../tests/llama/fixtures/props.json"));
        assert!(drops_tools(&own), "SmolLM2's own template has no tools");
        let tool_template = fixture(include_str!(
            "../../../tests/llama/fixtures/props_tool_template.json"
        ));
        assert!(!drops_tools(&tool_template));
        assert!(!drops_tools(&serde_json::json!({"error": "not found"})));
    }

    #[test]
    fn props_are_at_the_servers_root() {
        assert_eq!(
            url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/props"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/props"
        );
        assert_eq!(url("http://h:1/api"), "http://h:1/api/props");
    }
}
