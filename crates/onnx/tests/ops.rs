//! Operators no PyTorch fixture reaches, against their definitions computed by hand in f64: Gemm
//! with α, β and transposes (PyTorch's Linear exports as a Gemm that onnx-ir turns into Linear),
//! MatMul's rank-1 promotion and batch broadcasting, and Slice with negative steps.

use crate::common::f64_device;
use hessrank_onnx::ops::linalg::{gemm, matmul};
use hessrank_onnx::ops::shape::slice;
use hessrank_onnx::value::{DynTensor, Value};

fn host(t: &DynTensor) -> Vec<f64> {
    t.clone().flatten().into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn seq(n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|i| ((i * 7 + 3) % 11) as f64 * scale - 1.0).collect()
}

#[test]
fn gemm_is_alpha_op_a_op_b_plus_beta_c() {
    let device = f64_device();
    // A stored as [k, m] = [3, 2] (trans_a), B as [n, k] = [4, 3] (trans_b), C [4] broadcast.
    let (a, b, c) = (seq(6, 0.3), seq(12, 0.2), seq(4, 0.5));
    let t = |v: &Vec<f64>, shape: &[usize]| DynTensor::from_host(v.clone(), shape, &device);
    let y = gemm(t(&a, &[3, 2]), t(&b, &[4, 3]), Some(t(&c, &[4])), 0.5, 2.0, true, true).unwrap();
    assert_eq!(y.dims(), [2, 4]);
    let got = host(&y);
    for i in 0..2 {
        for j in 0..4 {
            let dot: f64 = (0..3).map(|k| a[k * 2 + i] * b[j * 3 + k]).sum();
            let want = 0.5 * dot + 2.0 * c[j];
            assert!((got[i * 4 + j] - want).abs() < 1e-12, "({i}, {j}): {} vs {want}", got[i * 4 + j]);
        }
    }
}

#[test]
fn matmul_promotes_vectors_and_broadcasts_batches() {
    let device = f64_device();
    let t = |v: Vec<f64>, shape: &[usize]| DynTensor::from_host(v, shape, &device);
    // [3] × [2, 3, 4] → [2, 4]: the vector is a row, the added axis removed, the batch kept.
    let (v, m) = (seq(3, 0.4), seq(24, 0.1));
    let y = matmul(t(v.clone(), &[3]), t(m.clone(), &[2, 3, 4])).unwrap();
    assert_eq!(y.dims(), [2, 4]);
    let got = host(&y);
    for b in 0..2 {
        for j in 0..4 {
            let want: f64 = (0..3).map(|k| v[k] * m[b * 12 + k * 4 + j]).sum();
            assert!((got[b * 4 + j] - want).abs() < 1e-12);
        }
    }
    // [2, 1, 2, 3] × [4, 3, 2] → [2, 4, 2, 2]: batch axes broadcast numpy's way.
    let (p, q) = (seq(12, 0.2), seq(24, 0.3));
    let y = matmul(t(p.clone(), &[2, 1, 2, 3]), t(q.clone(), &[4, 3, 2])).unwrap();
    assert_eq!(y.dims(), [2, 4, 2, 2]);
    let got = host(&y);
    for i in 0..2 {
        for j in 0..4 {
            for r in 0..2 {
                for c in 0..2 {
                    let want: f64 = (0..3).map(|k| p[i * 6 + r * 3 + k] * q[j * 6 + k * 2 + c]).sum();
                    assert!((got[((i * 4 + j) * 2 + r) * 2 + c] - want).abs() < 1e-12);
                }
            }
        }
    }
}

#[test]
fn slice_takes_negative_and_strided_steps() {
    let device = f64_device();
    let x = DynTensor::from_host((0..10).map(f64::from).collect(), &[10], &device);
    let pick = |starts: i64, ends: i64, step: i64| match slice(
        Value::float(x.clone()),
        &[starts],
        &[ends],
        None,
        Some(&[step]),
        &device,
    )
    .unwrap()
    {
        Value::Float { t, .. } => host(&t),
        Value::Int { .. } => unreachable!(),
    };
    assert_eq!(pick(0, 10, 3), [0.0, 3.0, 6.0, 9.0]);
    assert_eq!(pick(-1, -11, -1), [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]); // numpy x[::-1]
    assert_eq!(pick(8, 1, -3), [8.0, 5.0, 2.0]);
    assert_eq!(pick(2, i64::MAX, 1), [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    // on host integers too (the exporter's Pad reverses its pads this way)
    let ints = Value::Int { shape: vec![4], data: vec![1, 2, 3, 4] };
    let Value::Int { data, .. } = slice(ints, &[-1], &[i64::MIN], None, Some(&[-1]), &device).unwrap() else {
        panic!()
    };
    assert_eq!(data, [4, 3, 2, 1]);
}
