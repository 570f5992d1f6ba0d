namespace Functional.AD;

internal static partial class Prims
{
    /// <summary>
    /// Shape rules for the gathers and scatters along one axis that do not run the kernel: abstract evaluation's
    /// placeholder operands are ones, and an index of 1 is outside an axis of length 1, so running Take on them would
    /// refuse a valid call (a jitted Take from a [1, n] tensor). The index values are checked when the kernel runs.
    /// </summary>
    static void DeclareGatherShapeRules()
    {
        static int Axis(int axis, int rank, string op, Aval[] a) =>
            axis >= -rank && axis < rank ? (axis < 0 ? axis + rank : axis)
            : throw new ShapeException(op, a, $"axis {axis} is out of range for rank {rank}");
        Take.ShapeRule = (prm, a) =>
        {
            var (x, i) = (a[0], a[1]);
            if (i.DType == DType.Bool) throw IndexMoves.MaskRefused("Np.Take", a);
            int ax = Axis(prm.Get<int>(0), x.Rank, "Np.Take", a);
            return Aval.Intern([.. x.Dims[..ax], .. i.Dims, .. x.Dims[(ax + 1)..]], x.DType, x.Weak);
        };
        ScatterAdd.ShapeRule = (_, a) => Aval.Intern(a[2].Dims, a[0].DType, a[0].Weak);
        TakeBatched.ShapeRule = (prm, a) =>
        {
            var (x, i) = (a[0], a[1]);
            int b = prm.Get<int>(1);
            if (i.DType == DType.Bool) throw IndexMoves.MaskRefused("Np.Take (batched)", a);
            if (x.Rank < b || i.Rank < b) throw new ShapeException("Lax.TakeBatched", a, $"x and the indices must share their first {b} axes");
            var cx = x.Dims[b..];
            int ax = Axis(prm.Get<int>(0), cx.Length, "Lax.TakeBatched", a);
            return Aval.Intern([.. x.Dims[..b], .. cx[..ax], .. i.Dims[b..], .. cx[(ax + 1)..]], x.DType, x.Weak);
        };
        ScatterAddBatched.ShapeRule = (_, a) => Aval.Intern(a[2].Dims, a[0].DType, a[0].Weak);
    }
}
