//! Change scenarios shared by the changed-set and patch tests: each one is a fixture, an optional
//! setup committed as the base, and a change committed (`git add -A`) as the result.

use super::fixtures::{fixture, Fixture};
use super::git::git;

/// A named corner case.
pub struct Scenario {
    pub name: &'static str,
    pub fixture: &'static str,
    /// Bash run before the base commit (committed with `git add -A`), may be empty.
    pub setup: &'static str,
    /// Bash run after the base commit; its effect is committed as the result.
    pub change: &'static str,
}

/// A built scenario: the repository and the base and result commits.
pub struct Built {
    pub fx: Fixture,
    pub base: String,
    pub result: String,
}

/// Builds `scenario`.
pub fn build(scenario: &Scenario) -> Built {
    let fx = fixture(scenario.fixture);
    if !scenario.setup.is_empty() {
        fx.sh(scenario.setup);
        git(fx.path(), &["add", "-A"]);
        git(fx.path(), &["commit", "-q", "--allow-empty", "-m", "setup"]);
    }
    let base = git(fx.path(), &["rev-parse", "HEAD"]).trim().to_string();
    fx.sh(scenario.change);
    git(fx.path(), &["add", "-A"]);
    git(fx.path(), &["commit", "-q", "--allow-empty", "-m", scenario.name]);
    let result = git(fx.path(), &["rev-parse", "HEAD"]).trim().to_string();
    Built { fx, base, result }
}

/// Every corner case.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario { name: "modify-text", fixture: "python-project", setup: "", change: "sed -i 's/hello/HELLO/' src/app/util.py" },
        Scenario { name: "add-file", fixture: "python-project", setup: "", change: "mkdir -p src/app/sub && printf 'x = 1\\ny = 2\\n' > src/app/sub/new.py" },
        Scenario { name: "delete-file", fixture: "python-project", setup: "", change: "rm tests/test_util.py" },
        Scenario { name: "binary-modify", fixture: "python-project", setup: "", change: "printf '\\000\\001\\002changed\\377' >> assets/logo.bin" },
        Scenario { name: "binary-add-delete", fixture: "python-project", setup: "", change: "head -c 3000 /dev/zero | tr '\\000' '\\001' > assets/big.bin && printf '\\000' >> assets/big.bin && git rm -q assets/logo.bin" },
        Scenario { name: "text-to-binary", fixture: "python-project", setup: "", change: "printf 'now\\000binary\\n' > README.md" },
        Scenario { name: "no-newline-in-old", fixture: "python-project", setup: "printf 'a\\nb\\nlast' > nonl.txt", change: "printf 'a\\nb\\nlast\\nmore\\n' > nonl.txt" },
        Scenario { name: "no-newline-in-new", fixture: "python-project", setup: "", change: "printf '# app\\n\\nno newline now' > README.md" },
        Scenario { name: "no-newline-both", fixture: "python-project", setup: "printf 'a\\nb' > nonl.txt", change: "printf 'a\\nc' > nonl.txt" },
        Scenario { name: "crlf", fixture: "python-project", setup: "printf 'one\\r\\ntwo\\r\\nthree\\r\\n' > dos.txt", change: "printf 'one\\r\\nTWO\\r\\nthree\\r\\nfour\\r\\n' > dos.txt && printf 'x\\r\\n' > newdos.txt" },
        Scenario { name: "crlf-to-lf", fixture: "python-project", setup: "printf 'one\\r\\ntwo\\r\\n' > dos.txt", change: "printf 'one\\ntwo\\n' > dos.txt" },
        Scenario {
            name: "odd-paths",
            fixture: "python-project",
            setup: "printf 'old\\n' > 'docs/with \"quote\".txt'",
            change: "printf 'x\\n' > 'docs/sp ace.txt' && printf 'y\\n' > \"$(printf 'docs/tab\\there.txt')\" && printf 'z\\n' > 'docs/caf\u{e9} \u{2603}.txt' && printf 'w\\n' > 'docs/back\\\\slash.txt' && printf 'new\\n' > 'docs/with \"quote\".txt' && printf 'v\\n' >> 'docs/read me.txt'",
        },
        Scenario { name: "rename-pure", fixture: "python-project", setup: "", change: "git mv src/app/util.py src/app/helpers.py" },
        Scenario {
            name: "rename-with-edit",
            fixture: "python-project",
            setup: LONG_FILE_SETUP,
            change: "mkdir -p moved && git mv long.txt moved/long-renamed.txt && sed -i 's/line 7 of/LINE SEVEN of/' moved/long-renamed.txt",
        },
        Scenario { name: "rename-odd-path", fixture: "python-project", setup: "", change: "git mv 'docs/read me.txt' 'docs/r\u{e9}ad me.txt'" },
        Scenario { name: "mode-change", fixture: "python-project", setup: "", change: "chmod +x src/app/util.py && chmod -x scripts/run.sh" },
        Scenario { name: "mode-and-content", fixture: "python-project", setup: "", change: "chmod +x tests/test_util.py && echo '# more' >> tests/test_util.py" },
        Scenario { name: "symlink-add-retarget", fixture: "symlinks", setup: "", change: "ln -s README.md new-link && ln -sfn lib/inner/file.txt link-to-file" },
        Scenario { name: "file-to-symlink", fixture: "symlinks", setup: "", change: "rm README.md && ln -s lib/target.txt README.md" },
        Scenario { name: "symlink-to-file", fixture: "symlinks", setup: "", change: "rm link-to-file && printf 'now a file\\n' > link-to-file" },
        Scenario { name: "empty-files", fixture: "python-project", setup: "touch empty-old", change: "rm empty-old && touch empty-new && : > src/app/__init__.py" },
        Scenario { name: "large-hunks", fixture: "python-project", setup: LONG_FILE_SETUP, change: "sed -i -e '10,200s/words/WORDS/' -e '250,260d' -e '300a inserted line' long.txt" },
        Scenario { name: "dir-to-file", fixture: "python-project", setup: "", change: "rm -r tests && printf 'tests are gone\\n' > tests" },
        Scenario { name: "file-to-dir", fixture: "python-project", setup: "", change: "rm README.md && mkdir README.md && printf 'inside\\n' > README.md/index.md" },
        Scenario { name: "submodule-bump", fixture: "submodule", setup: "", change: "git -C vendor/lib commit -q --allow-empty -m bump" },
        Scenario { name: "whitespace", fixture: "python-project", setup: "printf 'a\\n\\n  \\n\\tb\\n' > ws.txt", change: "printf 'a \\n\\n\\n\\tb\\t\\n' > ws.txt" },
    ]
}

const LONG_FILE_SETUP: &str =
    "for i in $(seq 1 400); do echo \"line $i of a long file with some words\"; done > long.txt";
