//! docs/frame-format.md is built from real wsdissect output: every block that follows a
//! `<!-- wsdissect ARGS -->` marker must be exactly what `wsdissect ARGS` prints now.
//! `UPDATE_DOCS=1 cargo test --test integration docs` rewrites the blocks. A marker may end
//! with `< FILE` (a path from the repository's root): the file is given on standard input.

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
        let run = run_marked(args);
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

/// `wsdissect ARGS`, or `wsdissect ARGS < FILE` with the file on standard input.
fn run_marked(marker: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let (args, stdin) = match marker.split_once(" < ") {
        Some((args, file)) => (args, std::fs::read(repo().join(file.trim())).unwrap()),
        None => (marker, Vec::new()),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args.split_whitespace())
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The rows of the markdown table under `heading` in `doc`: its cells, trimmed, without
/// the header and separator rows.
fn table_rows(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

/// The guide's opcode and close-code tables name each code as the tool does.
#[test]
fn frame_format_tables_match_the_code() {
    use wsdissect::ws::close::close_code_name;
    use wsdissect::ws::opcode::OpCode;
    let doc = std::fs::read_to_string(repo().join("docs/frame-format.md")).unwrap();
    let opcodes = table_rows(&doc, "<!-- opcodes -->");
    assert_eq!(opcodes.len(), 8, "{opcodes:?}");
    for row in &opcodes {
        let bits = u8::from_str_radix(
            row[0].trim_start_matches("0x").split('-').next().unwrap(),
            16,
        )
        .unwrap_or_else(|_| panic!("{row:?}"));
        assert_eq!(OpCode::from_bits(bits).name(), row[1], "{row:?}");
    }
    let closes = table_rows(&doc, "<!-- close codes -->");
    assert!(closes.len() >= 16, "{closes:?}");
    for row in &closes {
        let first = row[0].split('-').next().unwrap();
        let code: u16 = first.parse().unwrap_or_else(|_| panic!("{row:?}"));
        assert_eq!(close_code_name(code), row[1], "{row:?}");
    }
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
