//! docs/frame-format.md is built from real wsdissect output: every block that follows a
//! `<!-- wsdissect ARGS -->` marker must be exactly what `wsdissect ARGS` prints now.
//! `UPDATE_DOCS=1 cargo test --test integration docs` rewrites the blocks.

use std::process::Command;

use crate::common::repo;

fn regenerate(doc: &str) -> String {
    let mut out = String::new();
    let mut lines = doc.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(args) = line
            .trim()
            .strip_prefix("<!-- wsdissect ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        // Skip the old block: its opening fence, body and closing fence.
        assert_eq!(
            lines.next().map(str::trim),
            Some("```text"),
            "a ```text block must follow the marker for {args}"
        );
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
        }
        let run = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
            .args(args.split_whitespace())
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "wsdissect {args}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        out.push_str("```text\n");
        out.push_str(&format!("$ wsdissect {args}\n"));
        out.push_str(&String::from_utf8(run.stdout).unwrap());
        out.push_str("```\n");
    }
    out
}

#[test]
fn frame_format_guide_matches_what_the_tool_prints() {
    let path = repo().join("docs/frame-format.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let fresh = regenerate(&doc);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert!(
        fresh == doc,
        "docs/frame-format.md is stale: run UPDATE_DOCS=1 cargo test --test integration docs"
    );
}

/// The man page and shell completions in docs/ are generated from the clap definitions; they
/// must match what the binary generates now (`UPDATE_DOCS=1` rewrites them).
#[test]
fn man_page_and_completions_are_current() {
    let cases: [(&[&str], &str); 4] = [
        (&["man"], "docs/man/wsdissect.1"),
        (&["completions", "bash"], "docs/completions/wsdissect.bash"),
        (&["completions", "zsh"], "docs/completions/_wsdissect"),
        (&["completions", "fish"], "docs/completions/wsdissect.fish"),
    ];
    let mut stale = Vec::new();
    for (args, file) in cases {
        let run = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
            .args(args)
            .output()
            .unwrap();
        assert!(run.status.success(), "wsdissect {args:?}");
        let path = repo().join(file);
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &run.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&run.stdout[..]) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "stale: {stale:?}; run UPDATE_DOCS=1 cargo test --test integration docs"
    );
}

/// Every rule in the registry is in docs/rules.md, so a new one cannot go undocumented.
#[test]
fn every_rule_is_documented() {
    let doc = std::fs::read_to_string(crate::common::repo().join("docs/rules.md")).unwrap();
    let missing: Vec<&str> = wsdissect::base::rules::ALL
        .iter()
        .map(|r| r.name)
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "not in docs/rules.md: {missing:?}");
}
