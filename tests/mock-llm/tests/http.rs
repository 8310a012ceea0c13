//! Drives the mock over real sockets with a plain HTTP client.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plinth_mock_llm::{Attempt, Fault, Faults, MockConfig, MockServer, Script};
use serde_json::{Value, json};

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn assistant() -> Value {
    json!({"role": "assistant", "content": null})
}

fn shell_tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "bash", "description": "run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}])
}

async fn post(base_url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base_url}/chat/completions"))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_ok(base_url: &str, body: &Value) -> Value {
    let response = post(base_url, body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn message(reply: &Value) -> &Value {
    &reply["choices"][0]["message"]
}

#[tokio::test]
async fn scripted_steps_and_attempts() {
    let script = Script::new().task(
        "retry-429",
        vec![
            vec![
                Attempt::http_error(429, Some(1), None),
                Attempt::tool_call("bash", r#"{"command": "echo {step}"}"#).reasoning("because"),
            ],
            vec![Attempt::text("done at {step}").usage(11, 22)],
        ],
    );
    let server = MockServer::start(MockConfig::scripted(script))
        .await
        .unwrap();
    let url = server.base_url();
    let first =
        json!({"model": "m", "messages": [user("fix it SCRIPT=retry-429")], "stream": false});

    let limited = post(&url, &first).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");

    let reply = post_ok(&url, &first).await;
    assert_eq!(reply["model"], "m");
    assert_eq!(reply["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(message(&reply)["reasoning_content"], "because");
    let call = &message(&reply)["tool_calls"][0];
    assert_eq!(call["function"]["name"], "bash");
    assert_eq!(call["function"]["arguments"], r#"{"command": "echo 1"}"#);
    // Attempts are used up: the step keeps its last one.
    assert_eq!(
        post_ok(&url, &first).await["choices"][0]["finish_reason"],
        "tool_calls"
    );

    let second = json!({"model": "m", "messages": [user("fix it SCRIPT=retry-429"), assistant(), user("out")]});
    let reply = post_ok(&url, &second).await;
    assert_eq!(message(&reply)["content"], "done at 2");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        reply["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 22, "total_tokens": 33})
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(requests[3].json()["messages"][2]["content"], "out");
    let stats = server.stats();
    assert_eq!((stats.chat_completions, stats.error_responses), (4, 1));
    assert_eq!((stats.tool_call_responses, stats.text_responses), (2, 1));
}

#[tokio::test]
async fn attempts_are_counted_per_conversation() {
    let script = Script::new()
        .task(
            "flaky",
            vec![vec![
                Attempt::http_error(500, None, Some("boom")),
                Attempt::text("ok"),
            ]],
        )
        .default_task("flaky");
    let server = MockServer::start(MockConfig::scripted(script))
        .await
        .unwrap();
    let url = server.base_url();
    for prompt in ["task one", "task two"] {
        let body = json!({"messages": [user(prompt)]});
        let failed = post(&url, &body).await;
        assert_eq!(failed.status(), 500);
        assert_eq!(failed.text().await.unwrap(), "boom");
        assert_eq!(message(&post_ok(&url, &body).await)["content"], "ok");
    }
}

#[tokio::test]
async fn delayed_reply_arrives_late() {
    let script = Script::new()
        .task(
            "slow",
            vec![vec![
                Attempt::text("late").delay(Duration::from_millis(300)),
            ]],
        )
        .default_task("slow");
    let server = MockServer::start(MockConfig::scripted(script))
        .await
        .unwrap();
    let started = Instant::now();
    let reply = post_ok(&server.base_url(), &json!({"messages": [user("x")]})).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(message(&reply)["content"], "late");
}

#[tokio::test]
async fn bench_mode_plays_k_steps_then_the_final_answer() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let url = server.base_url();
    let mut messages = vec![user("do it STEPS=2")];
    for step in 1..=2 {
        let reply = post_ok(&url, &json!({"messages": messages, "tools": shell_tools()})).await;
        let arguments = message(&reply)["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap()
            .to_owned();
        let arguments: Value = serde_json::from_str(&arguments).unwrap();
        assert_eq!(
            arguments,
            json!({"command": format!("echo step {step} && ls")})
        );
        messages.push(assistant());
        messages.push(json!({"role": "tool", "content": "out"}));
    }
    let reply = post_ok(&url, &json!({"messages": messages, "tools": shell_tools()})).await;
    assert!(message(&reply)["tool_calls"].is_null());
    assert!(
        message(&reply)["content"]
            .as_str()
            .unwrap()
            .contains("complete")
    );
    let stats = server.stats();
    assert_eq!((stats.chat_completions, stats.final_responses), (3, 1));
}

#[tokio::test]
async fn models_stats_and_errors() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let url = server.base_url();
    let client = reqwest::Client::new();
    let models: Value = client
        .get(format!("{url}/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "mock");

    let bad = client
        .post(format!("{url}/chat/completions"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = client.get(format!("{url}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let stats: Value = client
        .get(format!("http://{}/stats", server.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests_total"], 3);
    assert_eq!(stats["models_requests"], 1);
    assert_eq!(stats["bad_requests"], 1);
    assert_eq!(stats["not_found"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_share_the_latency() {
    let config = MockConfig {
        latency: Duration::from_millis(200),
        record_limit: 10,
        ..MockConfig::default()
    };
    let server = MockServer::start(config).await.unwrap();
    let url = server.base_url();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let requests = (0..500).map(|i| {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let body = json!({"messages": [user(&format!("task {i}"))], "tools": shell_tools()});
            let response = client
                .post(format!("{url}/chat/completions"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    for request in requests.collect::<Vec<_>>() {
        request.await.unwrap();
    }
    // Serial handling would take 100 s; concurrent handling a little over 0.2 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let stats = server.stats();
    assert_eq!(stats.chat_completions, 500);
    assert!(
        stats.max_in_flight > 100,
        "max in flight {}",
        stats.max_in_flight
    );
    assert_eq!(server.requests().len(), 10);
}

#[tokio::test]
async fn binary_loads_a_script_and_prints_its_address() {
    let path = std::env::temp_dir().join(format!("plinth-mock-script-{}.json", std::process::id()));
    let script = json!({"tasks": {"hello": [[{"kind": "bash", "command": "echo {step}"}]]}});
    std::fs::write(&path, script.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_plinth-mock-llm"))
        .args(["--port", "0", "--steps", "1", "--script"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{line}"
    );

    let scripted = post_ok(&url, &json!({"messages": [user("SCRIPT=hello")]})).await;
    assert_eq!(message(&scripted)["content"], "```bash\necho 1\n```");
    let bench = post_ok(
        &url,
        &json!({"messages": [user("no script"), assistant()], "tools": shell_tools()}),
    )
    .await;
    assert!(
        message(&bench)["content"]
            .as_str()
            .unwrap()
            .contains("All 1 steps are done")
    );

    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn each_fault_kind_and_a_fault_rate() {
    let body = json!({"model": "m", "messages": [user("SCRIPT=f go")]});
    for fault in Fault::ALL {
        let script =
            Script::new().task("f", vec![vec![Attempt::fault(fault), Attempt::text("ok")]]);
        let server = MockServer::start(MockConfig::scripted(script))
            .await
            .unwrap();
        let sent = reqwest::Client::new()
            .post(format!("{}/chat/completions", server.base_url()))
            .json(&body)
            .send()
            .await;
        if fault == Fault::Dropped {
            assert!(sent.unwrap_err().is_request());
            assert_eq!(
                post_ok(&server.base_url(), &body).await["choices"][0]["message"]["content"],
                "ok"
            );
            continue;
        }
        let response = sent.unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let text = response.bytes().await;
        match fault {
            Fault::RateLimited => {
                assert_eq!(status, 429);
                assert_eq!(retry_after.unwrap(), "1");
            }
            Fault::ServerError => assert_eq!(status, 500),
            Fault::Unavailable => assert_eq!(status, 503),
            Fault::Truncated => {
                assert_eq!(status, 200);
                assert!(serde_json::from_slice::<Value>(&text.unwrap()).is_err());
            }
            Fault::ErrorObject => {
                let reply: Value = serde_json::from_slice(&text.unwrap()).unwrap();
                assert_eq!(
                    (status, reply["error"]["type"].as_str()),
                    (200, Some("mock_fault"))
                );
            }
            Fault::EmptyChoices => {
                let reply: Value = serde_json::from_slice(&text.unwrap()).unwrap();
                assert_eq!((status, &reply["choices"]), (200, &json!([])));
            }
            Fault::Dropped => unreachable!("no response to read"),
            Fault::DroppedMidReply => {
                assert_eq!(status, 200);
                assert!(text.is_err(), "{fault:?} read whole");
            }
        }
        // The scripted fault used its attempt; the next is the reply.
        assert_eq!(
            post_ok(&server.base_url(), &body).await["choices"][0]["message"]["content"],
            "ok"
        );
        assert_eq!(server.stats().faults_injected, 1);
    }

    // At a rate, before the script: no scripted attempt is used up by a fault.
    let script = Script::new().task("f", vec![vec![Attempt::text("ok")]]);
    let server = MockServer::start(MockConfig {
        faults: Faults::at_rate(0.5),
        ..MockConfig::scripted(script)
    })
    .await
    .unwrap();
    let mut good = 0;
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let url = format!("{}/chat/completions", server.base_url());
        let Ok(response) = client.post(url).json(&body).send().await else {
            continue;
        };
        let ok = response.status() == 200;
        if let Ok(reply) = response.json::<Value>().await
            && ok
            && message(&reply)["content"] == "ok"
        {
            good += 1;
        }
    }
    let faults = server.stats().faults_injected;
    assert_eq!(good + faults, 100);
    assert!((30..70).contains(&faults), "{faults} faults");
}
