//! The CelebA loader on the real sample (`../shared/data/celeba-sample`) and on
//! damaged copies of it. Tests that need the sample say so and skip when it is
//! absent (a user's clone has no `../shared`; CI always has it).
use smn_host::data::celeba::{
    load_index, Partition, Selection, ATTRIBUTES_FILE, IMAGE_DIR, LANDMARKS_FILE, PARTITION_FILE,
};
use std::path::{Path, PathBuf};

mod common;

fn sample_dir() -> Option<PathBuf> {
    common::celeba_sample()
}

/// A temp copy of the first `n` rows of each list and their images.
fn small_copy(src: &Path, name: &str, n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smn-celeba-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(IMAGE_DIR)).unwrap();
    for (file, header_lines) in [(LANDMARKS_FILE, 2), (ATTRIBUTES_FILE, 2), (PARTITION_FILE, 0)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let mut lines: Vec<&str> = text.lines().take(header_lines + n).collect();
        let count = n.to_string();
        if header_lines == 2 {
            lines[0] = &count;
        }
        std::fs::write(dir.join(file), lines.join("\n") + "\n").unwrap();
    }
    for i in 1..=n {
        let f = format!("{i:06}.jpg");
        std::fs::copy(src.join(IMAGE_DIR).join(&f), dir.join(IMAGE_DIR).join(&f)).unwrap();
    }
    dir
}

fn edit(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, f(text)).unwrap();
}

#[test]
fn reads_the_real_sample() {
    let Some(dir) = sample_dir() else { return };
    let index = load_index(&dir, false).unwrap();
    assert_eq!(index.entries.len(), 3329);
    assert!(index.skipped.is_empty());
    let first = &index.entries[0];
    assert_eq!(first.file, "000001.jpg");
    assert_eq!(
        first.landmarks,
        [69.0, 109.0, 106.0, 113.0, 77.0, 142.0, 73.0, 152.0, 108.0, 154.0]
    );
    // 000001: 5_o_Clock_Shadow −1, Arched_Eyebrows +1, Attractive +1.
    assert_eq!(&first.attributes[..3], &[-1, 1, 1]);
    assert_eq!(first.partition, Partition::Train);
    assert_eq!(index.known_attributes.len(), 40);
    let sel = Selection {
        partitions: vec![Partition::Train],
        ids: Some(100..=199),
        fraction: Some(0.5),
    };
    let picked = index.select(&sel);
    assert_eq!(picked.len(), 50);
    assert_eq!(picked[0].id, 100);
    let (faces, skipped) = index.load(&picked[..4], false).unwrap();
    assert!(skipped.is_empty());
    assert_eq!((faces[0].image.width, faces[0].image.height), (178, 218));
}

#[test]
fn crlf_and_csv_variants_give_the_same_index() {
    let Some(src) = sample_dir() else { return };
    let plain = small_copy(&src, "plain", 20);
    let want = load_index(&plain, false).unwrap().entries;
    let crlf = small_copy(&src, "crlf", 20);
    for f in [LANDMARKS_FILE, ATTRIBUTES_FILE, PARTITION_FILE] {
        // Mixed: every other line CRLF, tabs for spaces.
        edit(&crlf, f, |t| {
            t.lines()
                .enumerate()
                .map(|(i, l)| {
                    if i % 2 == 0 {
                        format!("{}\r\n", l.replace("  ", "\t"))
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect()
        });
    }
    assert_eq!(load_index(&crlf, false).unwrap().entries, want);
    let csv = small_copy(&src, "csv", 20);
    for f in [LANDMARKS_FILE, ATTRIBUTES_FILE] {
        edit(&csv, f, |t| {
            let mut lines = t.lines().skip(1);
            let header = format!(
                "image_id,{}",
                lines.next().unwrap().split_whitespace().collect::<Vec<_>>().join(",")
            );
            std::iter::once(header)
                .chain(lines.map(|l| l.split_whitespace().collect::<Vec<_>>().join(",")))
                .collect::<Vec<_>>()
                .join("\n")
        });
    }
    edit(&csv, PARTITION_FILE, |t| {
        std::iter::once("image_id,partition".to_string())
            .chain(t.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(",")))
            .collect::<Vec<_>>()
            .join("\n")
    });
    assert_eq!(load_index(&csv, false).unwrap().entries, want);
}

#[test]
fn damaged_lists_are_errors_naming_file_and_line_or_counted_skips() {
    let Some(src) = sample_dir() else { return };
    // Short row in the landmark list (line 5 = third data row, 000003.jpg).
    let dir = small_copy(&src, "short", 10);
    edit(&dir, LANDMARKS_FILE, |t| {
        t.lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 4 {
                    l.rsplit_once(' ').unwrap().0.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let err = load_index(&dir, false).unwrap_err();
    assert!(err.to_string().contains(&format!("{LANDMARKS_FILE}:5:")), "{err}");
    let index = load_index(&dir, true).unwrap();
    assert_eq!(index.entries.len(), 9, "the bad row and only it is skipped");
    assert!(index.entries.iter().all(|e| e.file != "000003.jpg"));
    // Labels stay attached to their images: 000004 keeps its own landmarks.
    let ok = load_index(&small_copy(&src, "ref", 10), false).unwrap();
    assert_eq!(
        index.entries.iter().find(|e| e.id == 4),
        ok.entries.iter().find(|e| e.id == 4)
    );
    assert!(index.skipped.iter().any(|s| s.error.line == Some(5)));

    // Count line disagreeing with the rows.
    let dir = small_copy(&src, "count", 10);
    edit(&dir, ATTRIBUTES_FILE, |t| t.replacen("10", "11", 1));
    let err = load_index(&dir, false).unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(err.to_string().contains("count line says 11"), "{err}");

    // An image in one list but not another.
    let dir = small_copy(&src, "ids", 10);
    edit(&dir, PARTITION_FILE, |t| t.replace("000007.jpg", "000099.jpg"));
    let err = load_index(&dir, false).unwrap_err();
    assert!(
        err.to_string().contains("000007.jpg has no row in") && err.to_string().contains(ATTRIBUTES_FILE),
        "{err}"
    );
    let index = load_index(&dir, true).unwrap();
    assert_eq!(index.entries.len(), 9);
    assert_eq!(index.skipped.len(), 2, "000007 (no partition) and 000099 (no labels)");

    // A non-numeric label.
    let dir = small_copy(&src, "value", 10);
    edit(&dir, ATTRIBUTES_FILE, |t| t.replacen(" 1 ", " x ", 1));
    let err = load_index(&dir, false).unwrap_err();
    assert!(err.to_string().contains("is not -1, 0 or 1"), "{err}");

    // A missing list file.
    let dir = small_copy(&src, "missing", 3);
    std::fs::remove_file(dir.join(PARTITION_FILE)).unwrap();
    let err = load_index(&dir, true).unwrap_err();
    assert!(
        err.to_string().contains(PARTITION_FILE) && err.to_string().contains("cannot read"),
        "{err}"
    );
}

#[test]
fn missing_and_truncated_images() {
    let Some(src) = sample_dir() else { return };
    let dir = small_copy(&src, "images", 6);
    std::fs::remove_file(dir.join(IMAGE_DIR).join("000002.jpg")).unwrap();
    let jpeg = dir.join(IMAGE_DIR).join("000005.jpg");
    let bytes = std::fs::read(&jpeg).unwrap();
    std::fs::write(&jpeg, &bytes[..bytes.len() / 3]).unwrap();
    let index = load_index(&dir, false).unwrap();
    let all = index.select(&Selection::default());
    let err = index.load(&all, false).unwrap_err();
    assert!(
        err.to_string().contains("000002.jpg") || err.to_string().contains("000005.jpg"),
        "{err}"
    );
    let (faces, skipped) = index.load(&all, true).unwrap();
    assert_eq!(faces.len(), 4);
    let mut names: Vec<String> = skipped
        .iter()
        .map(|s| s.error.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["000002.jpg", "000005.jpg"]);
}
