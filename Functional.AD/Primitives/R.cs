namespace Functional.AD;

/// <summary>The vocabulary of rules: each helper applies one primitive of the table to rule values.</summary>
internal static class R
{
    static V Ap(Primitive p, V[] xs, params object?[] prms) => new(xs[0].B.Apply(p, xs.Select(x => x.N).ToArray(), new Params(prms)));

    public static V Exp(V x) => Ap(Prims.Exp, [x]);
    public static V Log(V x) => Ap(Prims.Log, [x]);
    public static V Sin(V x) => Ap(Prims.Sin, [x]);
    public static V Cos(V x) => Ap(Prims.Cos, [x]);
    public static V Sign(V x) => Ap(Prims.Sign, [x]);
    public static V Sigmoid(V x) => Ap(Prims.Sigmoid, [x]);
    public static V Pow(V a, V b) => Ap(Prims.Pow, [a, b]);
    public static V Greater(V a, V b) => Ap(Prims.Greater, [a, b]);
    public static V Less(V a, V b) => Ap(Prims.Less, [a, b]);
    public static V Equal(V a, V b) => Ap(Prims.Equal, [a, b]);
    public static V Where(V c, V a, V b) => Ap(Prims.Where, [c, a, b]);

    /// <summary>1 where x &gt; 0, else 0, in x's kind (the derivative of relu).</summary>
    public static V Step(V x) => x.Kind == Kind.Tensor ? Greater(x, x.Const(0)) : Where(Greater(x, x.Const(0)), x.Const(1), x.Const(0));

    public static V Dot(V a, V b) => Ap(Prims.Dot, [a, b]);
    public static V DotTA(V g, V b) => Ap(Prims.DotTA, [g, b]);
    public static V DotTB(V a, V g) => Ap(Prims.DotTB, [a, g]);
    public static V MatMul(V a, V b) => Ap(Prims.MatMul, [a, b]);
    public static V MatMulTA(V g, V b, V avalA) => Ap(Prims.MatMulTA, [g, b, avalA]);
    public static V MatMulTB(V a, V g, V avalB) => Ap(Prims.MatMulTB, [a, g, avalB]);

    public static V Transpose(V x, int[]? axes) => Ap(Prims.Transpose, [x], axes);
    public static V Reshape(V x, int[] shape) => Ap(Prims.Reshape, [x], shape);
    public static V ReshapeTo(V x, V aval) => Ap(Prims.ReshapeTo, [x, aval]);
    public static V BroadcastToShape(V x, int[] shape) => Ap(Prims.BroadcastToShape, [x], shape);
    public static V BroadcastTo(V x, V aval) => Ap(Prims.BroadcastTo, [x, aval]);
    public static V SumTo(V x, V aval) => Ap(Prims.SumTo, [x, aval]);

    public static V Sum(V x, int? axis = null, bool keepdims = false) => Ap(Prims.Sum, [x], axis, keepdims);
    public static V Mean(V x, int? axis = null, bool keepdims = false) => Ap(Prims.Mean, [x], axis, keepdims);
    public static V ExpandReduced(V g, V aval, int? axis, bool keepdims) => Ap(Prims.ExpandReduced, [g, aval], axis, keepdims);
    public static V ExpandReducedMean(V g, V aval, int? axis, bool keepdims) => Ap(Prims.ExpandReducedMean, [g, aval], axis, keepdims);

    public static V Take(V x, V idx, int axis) => Ap(Prims.Take, [x, idx], axis);
    public static V ScatterAdd(V g, V idx, int axis, V aval) => Ap(Prims.ScatterAdd, [g, idx, aval], axis);
    public static V Concatenate(V[] xs, int axis) => Ap(Prims.Concatenate, xs, axis);
    public static V SplitPart(V g, int axis, int index, V[] parts) => Ap(Prims.SplitPart, [g, .. parts], axis, index);
    public static V PadPart(V g, int axis, int index, V[] parts) => Ap(Prims.PadPart, [g, .. parts], axis, index);
    public static V Stack(V[] xs, int axis) => Ap(Prims.Stack, xs, axis);
    public static V Unstack(V g, V stacked, int axis, int index) => Ap(Prims.Unstack, [g, stacked], axis, index);
    public static V StackPart(V g, V stacked, int axis, int index) => Ap(Prims.StackPart, [g, stacked], axis, index);

    public static V ToDouble(V x) => Ap(Prims.ToDouble, [x]);
    public static V ToFloat(V x) => Ap(Prims.ToFloat, [x]);
    public static V Cast(V x, DType d) => Ap(Prims.Cast, [x], d);
    public static V CastTangent(V t, V x, DType d) => Ap(Prims.CastTangent, [t, x], d);
    public static V TangentFor(V t, V x) => Ap(Prims.TangentFor, [t, x]);
    public static V CastDouble(V x) => Ap(Prims.CastDouble, [x]);
    public static V CastFloat(V x) => Ap(Prims.CastFloat, [x]);
    /// <summary>A scalar as a rank-0 tensor (double: weak, float: float32).</summary>
    public static V FromScalar(V x) => x.Kind switch
    {
        Kind.Tensor => x,
        Kind.Float => Ap(Prims.FromFloat, [x]),
        _ => Ap(Prims.FromDouble, [x]),
    };

    public static V AvalOf(V x) => Ap(Prims.AvalOf, [x]);
    public static V Zeros(V aval) => Ap(Prims.Zeros, [aval]);
    /// <summary>Zeros shaped like x (a constant: no dependence on x's value).</summary>
    public static V ZerosOf(V x) => x.Kind == Kind.Tensor ? Zeros(AvalOf(x)) : x.Const(0);
}
