using System.Linq.Expressions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// A training problem with int32 labels and a bool mask (shared by the CPU and the Torch properties): softmax regression
/// on three clusters in the plane, the mask keeping about two examples of three.
/// </summary>
internal static class DTypeTraining
{
    internal static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor, Tensor>> Loss = (w, x, labels, keep) =>
        -Sum(Sum(LogSoftmax(MatMul(x, w), -1) * OneHot(labels, 3, DType.Float32), -1) * keep.AsType(DType.Float32)) / Sum(keep).AsType(DType.Float32);

    internal static Expression<Func<Tensor, Tensor, Tensor, Tensor, Tensor>> Step()
    {
        var grad = Ad.Grad(Loss);
        return (w, x, labels, keep) => w - 0.5 * grad.Invoke(w, x, labels, keep);
    }

    /// <summary>Three clusters in the plane (plus a bias column), int32 labels, and a mask keeping two examples of three.</summary>
    internal static (Tensor X, Tensor Labels, Tensor Keep) Data()
    {
        var noise = Rng.Normal(PrngKey.Create(7), [60, 2]).ToArray<float>();
        var xs = new float[60 * 3];
        var ys = new int[60];
        var keep = new bool[60];
        float[][] centres = [[2, 0], [-1, 1.7f], [-1, -1.7f]];
        for (int i = 0; i < 60; i++)
        {
            ys[i] = i % 3;
            xs[i * 3] = centres[ys[i]][0] + 0.4f * noise[2 * i];
            xs[i * 3 + 1] = centres[ys[i]][1] + 0.4f * noise[2 * i + 1];
            xs[i * 3 + 2] = 1;
            keep[i] = i % 3 != 1 || i % 2 == 0;
        }
        return (new Tensor(xs, [60, 3]), new Tensor(ys), new Tensor(keep));
    }
}
