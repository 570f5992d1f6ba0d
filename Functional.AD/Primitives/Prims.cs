using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The table of primitives. Each entry declares, side by side: the eager methods it is written as (Tensor, double,
/// float), its JVP rule, and its transpose rule when it is linear. Rules use the same operators as user code
/// (see <see cref="V"/> and <see cref="R"/>), so they are differentiable again. Adding a primitive is adding one
/// entry here; no transformation grows a case.
/// </summary>
internal static partial class Prims
{
    static readonly List<Primitive> all = new();
    static readonly Dictionary<MethodInfo, Primitive> byMethod = new();

    /// <summary>Every primitive of the table (the pseudo-primitives Input, Const, AvalOf, InferAval included), the vocabulary's too.</summary>
    public static IReadOnlyList<Primitive> All { get { EnsureVocabulary(); return all; } }

    /// <summary>The primitive a method call stands for, if any (declaring the vocabulary first when the method is not a core primitive).</summary>
    public static Primitive? ForMethod(MethodInfo m)
    {
        if (byMethod.TryGetValue(m, out var p)) return p;
        EnsureVocabulary();
        return byMethod.TryGetValue(m, out p) ? p : null;
    }


    static MethodInfo Np_(string name, params Type[] ts) => typeof(Np).GetMethod(name, ts) ?? throw new MissingMethodException(nameof(Np), name);
    static MethodInfo Lax_(string name, params Type[] ts) => typeof(Lax).GetMethod(name, ts) ?? throw new MissingMethodException(nameof(Lax), name);
    static MethodInfo Rt_(string name, params Type[] ts) => typeof(Rt).GetMethod(name, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, ts) ?? throw new MissingMethodException(nameof(Rt), name);
    static MethodInfo Math_(string name, params Type[] ts) => typeof(Math).GetMethod(name, ts)!;
    static MethodInfo MathF_(string name, params Type[] ts) => typeof(MathF).GetMethod(name, ts)!;
    static MethodInfo Op_(string name, Type a, Type b) => typeof(Tensor).GetMethod(name, [a, b]) ?? throw new MissingMethodException(nameof(Tensor), name);

    static readonly Type T = typeof(Tensor), D = typeof(double), F = typeof(float), A = typeof(Aval);

    static Primitive Def(string name, MethodInfo? tensor = null, MethodInfo? dbl = null, MethodInfo? flt = null, params MethodInfo[] aliases)
    {
        var p = new Primitive(name) { TensorMethod = tensor, DoubleMethod = dbl, FloatMethod = flt };
        all.Add(p);
        foreach (var m in new[] { tensor, dbl, flt }.Concat(aliases))
            if (m is not null) byMethod.TryAdd(m, p);
        return p;
    }

    static V? Sum2(V? a, V? b) => a is null ? b : b is null ? a : a + b;

    // ---------------------------------------------------------------- structure
    public static readonly Primitive Input = Def("input");
    public static readonly Primitive Const = Def("const");

    // ---------------------------------------------------------------- shape helpers (non-differentiable)
    public static readonly Primitive AvalOf = Batch(Def("AvalOf", Lax_("AvalOf", T), Lax_("AvalOf", D), Lax_("AvalOf", F)), BatchRules.WholeValue);
    public static readonly Primitive InferAval = Batch(Def("InferAval"), BatchRules.WholeValue);
    public static readonly Primitive Zeros = ShapeOnly("Zeros", Lax_("Zeros", A), BatchRules.WholeValue, (_, a) => Lax.Zeros(a[0]), likeAval: 0);
    public static readonly Primitive Ones = ShapeOnly("Ones", Lax_("Ones", A), BatchRules.WholeValue, (_, a) => Lax.Ones(a[0]), likeAval: 0);
    public static readonly Primitive GradSeed = ShapeOnly("GradSeed", Rt_("GradSeed", T, typeof(FunctionText)), BatchRules.GradSeed,
        (p, a) => Lax.Ones(Rt.GradSeedAval(a[0], p.Get<FunctionText>(0))));

    // ---------------------------------------------------------------- arithmetic: operators on every kind
    public static readonly Primitive Add = Arithmetic("Add", Np_("Add", T, T), ExpressionType.Add, "+",
        (c, t) => (t[0], t[1]) switch { (null, { } tb) => c.BroadcastToAns(tb), ({ } ta, null) => c.BroadcastToAns(ta), ({ } ta, { } tb) => ta + tb, _ => null },
        (c, ct) => [c.Linear[0] ? c.Unbroadcast(ct, 0) : null, c.Linear[1] ? c.Unbroadcast(ct, 1) : null],
        Op_("op_Addition", T, T), Op_("op_Addition", T, D), Op_("op_Addition", D, T));
    public static readonly Primitive Sub = Arithmetic("Sub", Np_("Sub", T, T), ExpressionType.Subtract, "-",
        (c, t) => (t[0], t[1]) switch { (null, { } tb) => c.BroadcastToAns(-tb), ({ } ta, null) => c.BroadcastToAns(ta), ({ } ta, { } tb) => ta - tb, _ => null },
        (c, ct) => [c.Linear[0] ? c.Unbroadcast(ct, 0) : null, c.Linear[1] ? c.Unbroadcast(-ct, 1) : null],
        Op_("op_Subtraction", T, T), Op_("op_Subtraction", T, D), Op_("op_Subtraction", D, T));
    public static readonly Primitive Mul = Arithmetic("Mul", Np_("Mul", T, T), ExpressionType.Multiply, "*",
        (c, t) => Sum2(t[0] is { } ta ? ta * c.X[1] : null, t[1] is { } tb ? c.X[0] * tb : null),
        (c, ct) => [c.Linear[0] ? c.Unbroadcast(MaskedCotangents.Mul(c, ct, c.X[1]), 0) : null, c.Linear[1] ? c.Unbroadcast(MaskedCotangents.Mul(c, ct, c.X[0]), 1) : null],
        Op_("op_Multiply", T, T), Op_("op_Multiply", T, D), Op_("op_Multiply", D, T));
    // d(a/b) = da/b - (a/b) db/b
    public static readonly Primitive Div = Arithmetic("Div", Np_("Div", T, T), ExpressionType.Divide, "/",
        (c, t) => t[1] is not { } tb ? t[0]! / c.X[1] : t[0] is not { } ta ? -(c.Ans! * tb / c.X[1]) : (ta - c.Ans! * tb) / c.X[1],
        (c, ct) => [c.Linear[0] ? c.Unbroadcast(MaskedCotangents.Div(c, ct, c.X[1]), 0) : null, NotLinear(c, "Div", 1)],
        Op_("op_Division", T, T), Op_("op_Division", T, D), Op_("op_Division", D, T));
    public static readonly Primitive Neg = Unary("Neg", Np_("Neg", T), Operator(ExpressionType.Negate), Vec("Neg"), (c, t) => -t[0]!,
        transpose: (c, ct) => [-ct], aliases: typeof(Tensor).GetMethod("op_UnaryNegation", [T])!);

    // ---------------------------------------------------------------- elementwise functions
    public static readonly Primitive Exp = Unary("Exp", Np_("Exp", T), Calls(Math_("Exp", D), MathF_("Exp", F)), Vec("Exp"), (c, t) => t[0]! * c.Ans!, Math_("Exp", D), MathF_("Exp", F));
    public static readonly Primitive Log = Unary("Log", Np_("Log", T), Calls(Math_("Log", D), MathF_("Log", F)), Vec("Log"), (c, t) => t[0]! / c.X[0], Math_("Log", D), MathF_("Log", F));
    public static readonly Primitive Tanh = Unary("Tanh", Np_("Tanh", T), Calls(Math_("Tanh", D), MathF_("Tanh", F)), Vec("Tanh"), (c, t) => t[0]! * (1 - c.Ans! * c.Ans!), Math_("Tanh", D), MathF_("Tanh", F));
    public static readonly Primitive Sin = Unary("Sin", Np_("Sin", T), Calls(Math_("Sin", D), MathF_("Sin", F)), Vec("Sin"), (c, t) => t[0]! * R.Cos(c.X[0]), Math_("Sin", D), MathF_("Sin", F));
    public static readonly Primitive Cos = Unary("Cos", Np_("Cos", T), Calls(Math_("Cos", D), MathF_("Cos", F)), Vec("Cos"), (c, t) => t[0]! * -R.Sin(c.X[0]), Math_("Cos", D), MathF_("Cos", F));
    public static readonly Primitive Sqrt = Unary("Sqrt", Np_("Sqrt", T), Calls(Math_("Sqrt", D), MathF_("Sqrt", F)), Vec("Sqrt"), (c, t) => t[0]! / (2 * c.Ans!), Math_("Sqrt", D), MathF_("Sqrt", F));
    public static readonly Primitive Abs = Unary("Abs", Np_("Abs", T), Calls(Math_("Abs", D), MathF_("Abs", F)), Vec("Abs"), (c, t) => t[0]! * R.Sign(c.X[0]), Math_("Abs", D), MathF_("Abs", F));
    public static readonly Primitive Sign = Unary("Sign", Np_("Sign", T), Calls(SM("Sign", D), SM("Sign", F)), Vec("Sign"), null, SM("Sign", D), SM("Sign", F));
    public static readonly Primitive Sigmoid = Unary("Sigmoid", Np_("Sigmoid", T), Calls(SM("Sigmoid", D), SM("Sigmoid", F)), Vec("Sigmoid"), (c, t) => t[0]! * (c.Ans! * (1 - c.Ans!)), SM("Sigmoid", D), SM("Sigmoid", F));
    public static readonly Primitive Softplus = Unary("Softplus", Np_("Softplus", T), Calls(SM("Softplus", D), SM("Softplus", F)), LanesOf(SM("Softplus", D), SM("Softplus", F)),
        (c, t) => t[0]! * R.Sigmoid(c.X[0]), SM("Softplus", D), SM("Softplus", F));
    public static readonly Primitive Relu = Unary("Relu", Np_("Relu", T), Calls(SM("Relu", D), SM("Relu", F)), (v, x) => v.Call("Max", x[0], v.K(0)),
        (c, t) => t[0]! * R.Step(c.X[0]), SM("Relu", D), SM("Relu", F));
    // d(a^b) = b a^(b-1) da + log(a) a^b db
    public static readonly Primitive Pow = Binary("Pow", Np_("Pow", T, T), Calls(Math_("Pow", D, D), MathF_("Pow", F, F)), LanesOf(Math_("Pow", D, D), MathF_("Pow", F, F)),
        (c, t) => Sum2(t[0] is { } ta ? ta * (c.X[1] * R.Pow(c.X[0], c.X[1] - 1)) : null, t[1] is { } tb ? tb * (R.Log(c.X[0]) * c.Ans!) : null),
        dbl: Math_("Pow", D, D), flt: MathF_("Pow", F, F));
    // ties split the tangent evenly, as JAX does
    // C#'s %: d(a % b) = da - trunc(a / b) db, and trunc(a / b) = (a - a % b) / b
    public static readonly Primitive Remainder = Binary("Remainder", Np_("Remainder", T, T), Operator(ExpressionType.Modulo),
        LanesOf(typeof(ScalarMath).GetMethod("Rem", [D, D])!, typeof(ScalarMath).GetMethod("Rem", [F, F])!),
        (c, t) => Sum2(t[0] is { } ta ? c.BroadcastToAns(ta) : null, t[1] is { } tb ? c.BroadcastToAns(-(tb * ((c.X[0] - c.Ans!) / c.X[1]))) : null),
        (c, ct) => [NotLinear(c, "Remainder", 0), NotLinear(c, "Remainder", 1)],
        aliases: [Op_("op_Modulus", T, T), Op_("op_Modulus", T, D)]);
    public static readonly Primitive Maximum = Binary("Maximum", Np_("Maximum", T, T), Calls(Math_("Max", D, D), MathF_("Max", F, F)), Vec("Max"),
        (c, t) => MinMaxJvp(c, t, R.Greater(c.X[0], c.X[1]), R.Less(c.X[0], c.X[1])), dbl: Math_("Max", D, D), flt: MathF_("Max", F, F));
    public static readonly Primitive Minimum = Binary("Minimum", Np_("Minimum", T, T), Calls(Math_("Min", D, D), MathF_("Min", F, F)), Vec("Min"),
        (c, t) => MinMaxJvp(c, t, R.Less(c.X[0], c.X[1]), R.Greater(c.X[0], c.X[1])), dbl: Math_("Min", D, D), flt: MathF_("Min", F, F));

    // log(1 + x) accurate near 0: log(u) x / (u - 1) with u = 1 + x corrects u's rounding (Goldberg 1991, thm 4)
    public static readonly Primitive Log1p = UnaryFn("Log1p", Np_("Log1p", T),
        static x => { double u = 1 + x; return u == 1 ? x : double.IsPositiveInfinity(u) ? u : Math.Log(u) * (x / (u - 1)); },
        static x => { double u = 1 + (double)x; return (float)(u == 1 ? x : double.IsPositiveInfinity(u) ? u : Math.Log(u) * (x / (u - 1))); },
        (c, t) => t[0]! / (1 + c.X[0]));
    // e^x - 1 accurate near 0: (u - 1) x / log(u) with u = e^x (Kahan)
    public static readonly Primitive Expm1 = UnaryFn("Expm1", Np_("Expm1", T),
        static x => { double u = Math.Exp(x); return u == 1 ? x : u - 1 == -1 ? -1 : double.IsPositiveInfinity(u) ? u : (u - 1) * (x / Math.Log(u)); },
        static x => { double u = Math.Exp(x); return (float)(u == 1 ? x : u - 1 == -1 ? -1 : double.IsPositiveInfinity(u) ? u : (u - 1) * (x / Math.Log(u))); },
        (c, t) => t[0]! * (c.Ans! + 1));
    // erf x = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)): every term positive, so no cancellation; 1 beyond |x| = 6
    public static readonly Primitive Erf = UnaryFn("Erf", Np_("Erf", T), ScalarErf, static x => (float)ScalarErf(x),
        (c, t) => t[0]! * (2 / Math.Sqrt(Math.PI) * R.Exp(-(c.X[0] * c.X[0]))));
    public static readonly Primitive Atan = UnaryFn("Atan", Np_("Atan", T), Math.Atan, MathF.Atan, (c, t) => t[0]! / (1 + c.X[0] * c.X[0]),
        dbl: Math_("Atan", D), flt: MathF_("Atan", F));
    public static readonly Primitive Square = UnaryFn("Square", Np_("Square", T), static x => x * x, static x => x * x, (c, t) => t[0]! * (2 * c.X[0]),
        vector: (v, x) => v.Call("Mul", x[0], x[0]));
    // clip(x, lo, hi) = min(max(x, lo), hi): the tangent is hi's where max(x, lo) > hi (lo > hi included, as numpy and JAX
    // define it), else lo's where x < lo, else x's (x's at a bound)
    public static readonly Primitive Clip = Binary("Clip", Np_("Clip", T, T, T), (x, t) => Calls(Math_("Min", D, D), MathF_("Min", F, F))([Calls(Math_("Max", D, D), MathF_("Max", F, F))([x[0], x[1]], t), x[2]], t),
        (v, x) => v.Call("Min", v.Call("Max", x[0], x[1]), x[2]),
        (c, t) => c.BroadcastToAns(R.Where(R.Greater(Ap(Maximum, [c.X[0], c.X[1]], new Params()), c.X[2]), t[2] ?? c.ZeroLike(2),
            R.Where(R.Less(c.X[0], c.X[1]), t[1] ?? c.ZeroLike(1), t[0] ?? c.ZeroLike(0)))));

    // ---------------------------------------------------------------- comparisons and selection
    public static readonly Primitive Greater = Comparison("Greater", Np_("Greater", T, T), ExpressionType.GreaterThan, ">", Op_("op_GreaterThan", T, T), Op_("op_GreaterThan", T, D), Op_("op_GreaterThan", D, T));
    public static readonly Primitive Less = Comparison("Less", Np_("Less", T, T), ExpressionType.LessThan, "<", Op_("op_LessThan", T, T), Op_("op_LessThan", T, D), Op_("op_LessThan", D, T));
    public static readonly Primitive GreaterEqual = Comparison("GreaterEqual", Np_("GreaterEqual", T, T), ExpressionType.GreaterThanOrEqual, ">=", Op_("op_GreaterThanOrEqual", T, T), Op_("op_GreaterThanOrEqual", T, D), Op_("op_GreaterThanOrEqual", D, T));
    public static readonly Primitive LessEqual = Comparison("LessEqual", Np_("LessEqual", T, T), ExpressionType.LessThanOrEqual, "<=", Op_("op_LessThanOrEqual", T, T), Op_("op_LessThanOrEqual", T, D), Op_("op_LessThanOrEqual", D, T));
    public static readonly Primitive Equal = Comparison("Equal", Np_("Equal", T, T), ExpressionType.Equal, "==");
    public static readonly Primitive NotEqual = Comparison("NotEqual", null, ExpressionType.NotEqual, "!=");
    public static readonly Primitive And = Logical("And", ExpressionType.AndAlso, "&&", Np_("LogicalAnd", T, T), "&", Op_("op_BitwiseAnd", T, T));
    public static readonly Primitive Or = Logical("Or", ExpressionType.OrElse, "||", Np_("LogicalOr", T, T), "|", Op_("op_BitwiseOr", T, T));
    public static readonly Primitive Not = Logical("Not", ExpressionType.Not, "!", Np_("LogicalNot", T), "!", typeof(Tensor).GetMethod("op_LogicalNot", [T])!);
    // Where(c, a, b): a bool condition is a select between whole values; a tensor mask selects elementwise (non-zero and NaN pick a)
    public static readonly Primitive Where = Binary("Where", Np_("Where", T, T, T),
        (x, t) => Expression.Condition(Expression.NotEqual(x[0], Primitive.Conv(Expression.Constant(0.0), t)), x[1], x[2]), Vec("Where"),
        // a mask broadcasts its operands: the tangent is broadcast to the output (a symbolic-zero partner of a larger shape)
        (c, t) => t[1] is null && t[2] is null ? null
            : c.X[0].Kind == Kind.Bool ? R.Where(c.X[0], t[1] ?? WhereZero(c, 1), t[2] ?? WhereZero(c, 2))
            : c.BroadcastToAns(R.Where(c.X[0], t[1] ?? WhereZero(c, 1), t[2] ?? WhereZero(c, 2))),
        (c, ct) =>
        {
            var zero = c.X[0].Kind == Kind.Bool ? R.ZerosOf(ct) : ct.Const(0);
            return [null, c.Linear[1] ? c.Unbroadcast(R.Where(c.X[0], ct, zero), 1) : null, c.Linear[2] ? c.Unbroadcast(R.Where(c.X[0], zero, ct), 2) : null];
        });

    // ---------------------------------------------------------------- products: Dot, DotTA and DotTB are the three slots of one contraction, each the transpose of another
    // each cotangent takes its operand's dtype (Own): a float32 operand of a product with a float64 one gets a float32 cotangent
    public static readonly Primitive Dot = Contraction("Dot", Np_("Dot", T, T),
        (c, t) => Sum2(t[0] is null ? null : R.Dot(t[0]!, c.X[1]), t[1] is null ? null : R.Dot(c.X[0], t[1]!)),
        (c, ct) => [c.Linear[0] ? Own(c, 0, R.DotTA(ct, c.X[1])) : null, c.Linear[1] ? Own(c, 1, R.DotTB(c.X[0], ct)) : null], (false, false), BatchRules.Dot, DotRules.DotDims, DotRules.DotTerms);
    public static readonly Primitive DotTA = Contraction("DotTA", Lax_("DotTA", T, T),
        (c, t) => Sum2(t[0] is null ? null : R.DotTA(t[0]!, c.X[1]), t[1] is null ? null : R.DotTA(c.X[0], t[1]!)),
        (c, ct) => [c.Linear[0] ? Own(c, 0, R.Dot(ct, c.X[1])) : null, c.Linear[1] ? Own(c, 1, R.DotTB(ct, c.X[0])) : null], (false, true), BatchRules.DotTA, DotRules.DotTADims, DotRules.DotTATerms);
    public static readonly Primitive DotTB = Contraction("DotTB", Lax_("DotTB", T, T),
        (c, t) => Sum2(t[0] is null ? null : R.DotTB(t[0]!, c.X[1]), t[1] is null ? null : R.DotTB(c.X[0], t[1]!)),
        (c, ct) => [c.Linear[0] ? Own(c, 0, R.DotTA(c.X[1], ct)) : null, c.Linear[1] ? Own(c, 1, R.Dot(c.X[0], ct)) : null], (true, false), BatchRules.DotTB, DotRules.DotTBDims, DotRules.DotTBTerms);
    public static readonly Primitive MatMul = Contraction("MatMul", Np_("MatMul", T, T),
        (c, t) => Sum2(t[0] is null ? null : R.MatMul(t[0]!, c.X[1]), t[1] is null ? null : R.MatMul(c.X[0], t[1]!)),
        (c, ct) => [c.Linear[0] ? Own(c, 0, R.MatMulTA(ct, c.X[1], c.Aval(0))) : null, c.Linear[1] ? Own(c, 1, R.MatMulTB(c.X[0], ct, c.Aval(1))) : null], (false, false), BatchRules.MatMul);
    // 2-D: g b^T
    public static readonly Primitive MatMulTA = Contraction("MatMulTA", Lax_("MatMulTA", T, T, A),
        (c, t) => Sum2(t[0] is null ? null : R.MatMulTA(t[0]!, c.X[1], c.X[2]), t[1] is null ? null : R.MatMulTA(c.X[0], t[1]!, c.X[2])),
        (c, ct) => [c.Linear[0] ? c.Unbroadcast(R.MatMul(ct, c.X[1]), 0) : null, c.Linear[1] ? R.MatMulTB(ct, c.X[0], c.Aval(1)) : null, null], (false, true), BatchRules.MatMulTA);
    // 2-D: a^T g
    public static readonly Primitive MatMulTB = Contraction("MatMulTB", Lax_("MatMulTB", T, T, A),
        (c, t) => Sum2(t[0] is null ? null : R.MatMulTB(t[0]!, c.X[1], c.X[2]), t[1] is null ? null : R.MatMulTB(c.X[0], t[1]!, c.X[2])),
        (c, ct) => [c.Linear[0] ? R.MatMulTA(c.X[1], ct, c.Aval(0)) : null, c.Linear[1] ? c.Unbroadcast(R.MatMul(c.X[0], ct), 1) : null, null], (true, false), BatchRules.MatMulTB);

    // ---------------------------------------------------------------- shapes
    public static readonly Primitive Transpose = Structural("Transpose", Np_("Transpose", T, typeof(int[])),
        (c, t) => R.Transpose(t[0]!, c.P.Get<int[]?>(0)), (c, ct) => [R.Transpose(ct, Inverse(c.P.Get<int[]?>(0)))], [0], BatchRules.Transpose, result: EagerResult.View);
    public static readonly Primitive Reshape = Structural("Reshape", Np_("Reshape", T, typeof(int[])),
        (c, t) => R.Reshape(t[0]!, c.P.Get<int[]>(0)), (c, ct) => [R.ReshapeTo(ct, c.Aval(0))], [0], BatchRules.Reshape, result: EagerResult.View);
    public static readonly Primitive ReshapeTo = Structural("ReshapeTo", Lax_("ReshapeTo", T, A),
        (c, t) => R.ReshapeTo(t[0]!, c.X[1]), (c, ct) => [R.ReshapeTo(ct, c.Aval(0)), null], [0], BatchRules.ReshapeTo, likeAval: 1, EagerResult.View, identityWhenSameAval: true);
    public static readonly Primitive BroadcastToShape = Structural("BroadcastTo", Np_("BroadcastTo", T, typeof(int[])),
        (c, t) => R.BroadcastToShape(t[0]!, c.P.Get<int[]>(0)), (c, ct) => [c.Unbroadcast(ct, 0)], [0], BatchRules.BroadcastToShape);
    public static readonly Primitive BroadcastTo = Structural("BroadcastTo", Lax_("BroadcastTo", T, A),
        (c, t) => R.BroadcastTo(t[0]!, c.X[1]), (c, ct) => [c.Unbroadcast(ct, 0), null], [0], BatchRules.BroadcastTo, likeAval: 1, EagerResult.View, identityWhenSameAval: true);
    public static readonly Primitive SumTo = Structural("SumTo", Lax_("SumTo", T, A),
        (c, t) => R.SumTo(t[0]!, c.X[1]), (c, ct) => [R.BroadcastTo(ct, c.Aval(0)), null], [0], BatchRules.SumTo, likeAval: 1, EagerResult.Reduction, identityWhenSameAval: true);

    // ---------------------------------------------------------------- reductions
    public static readonly Primitive Sum = Reduction("Sum", Np_("Sum", T, typeof(int?), typeof(bool)),
        (c, t) => R.Sum(t[0]!, c.P.Get<int?>(0), c.P.Get<bool>(1)),
        (c, ct) => [R.ExpandReduced(ct, c.Aval(0), c.P.Get<int?>(0), c.P.Get<bool>(1))], linear: true, EagerResult.Reduction, Accumulation.Sum);
    public static readonly Primitive Mean = Reduction("Mean", Np_("Mean", T, typeof(int?), typeof(bool)),
        (c, t) => R.Mean(t[0]!, c.P.Get<int?>(0), c.P.Get<bool>(1)),
        (c, ct) => [R.ExpandReducedMean(ct, c.Aval(0), c.P.Get<int?>(0), c.P.Get<bool>(1))], linear: true, EagerResult.Reduction, Accumulation.Mean);
    // the tangent of a max is the mean of the tangents at the maximising positions
    public static readonly Primitive Max = Reduction("Max", Np_("Max", T, typeof(int?), typeof(bool)), (c, t) =>
    {
        int? axis = c.P.Get<int?>(0); bool keep = c.P.Get<bool>(1);
        var mask = R.Equal(c.X[0], R.ExpandReduced(c.Ans!, c.Aval(0), axis, keep));
        return R.Sum(t[0]! * mask, axis, keep) / R.Sum(mask, axis, keep);
    });
    public static readonly Primitive ExpandReduced = Structural("ExpandReduced", Lax_("ExpandReduced", T, A, typeof(int?), typeof(bool)),
        (c, t) => R.ExpandReduced(t[0]!, c.X[1], c.P.Get<int?>(0), c.P.Get<bool>(1)), (c, ct) => [R.Sum(ct, c.P.Get<int?>(0), c.P.Get<bool>(1)), null], [0], BatchRules.ExpandReduced, likeAval: 1, repeats: OneElement.Itself);
    public static readonly Primitive ExpandReducedMean = Structural("ExpandReducedMean", Lax_("ExpandReducedMean", T, A, typeof(int?), typeof(bool)),
        (c, t) => R.ExpandReducedMean(t[0]!, c.X[1], c.P.Get<int?>(0), c.P.Get<bool>(1)), (c, ct) => [R.Mean(ct, c.P.Get<int?>(0), c.P.Get<bool>(1)), null], [0], BatchRules.ExpandReducedMean, likeAval: 1, repeats: OneElement.DividedByCount);
    public static readonly Primitive LogSumExp = Reduction("LogSumExp", Np_("LogSumExp", T, typeof(int?), typeof(bool)), (c, t) =>
    {
        int? axis = c.P.Get<int?>(0); bool keep = c.P.Get<bool>(1);
        var softmax = R.Exp(c.X[0] - R.ExpandReduced(c.Ans!, c.Aval(0), axis, keep));
        return R.Sum(t[0]! * softmax, axis, keep);
    });
    public static readonly Primitive Softmax = Reduction("Softmax", Np_("Softmax", T, typeof(int)),
        (c, t) => c.Ans! * (t[0]! - R.Sum(c.Ans! * t[0]!, c.P.Get<int>(0), true)), result: EagerResult.Fresh);
    public static readonly Primitive LogSoftmax = Reduction("LogSoftmax", Np_("LogSoftmax", T, typeof(int)),
        (c, t) => t[0]! - R.Sum(R.Exp(c.Ans!) * t[0]!, c.P.Get<int>(0), true), result: EagerResult.Fresh);
    public static readonly Primitive Argmax = Reduction("Argmax", Np_("Argmax", T, typeof(int?)), null);

    // ---------------------------------------------------------------- indexing and joining
    public static readonly Primitive Take = Structural("Take", Np_("Take", T, T, typeof(int)),
        (c, t) => R.Take(t[0]!, c.X[1], c.P.Get<int>(0)), (c, ct) => [R.ScatterAdd(ct, c.X[1], c.P.Get<int>(0), c.Aval(0)), null], [0], BatchRules.Take);
    public static readonly Primitive ScatterAdd = Structural("ScatterAdd", Lax_("ScatterAdd", T, T, typeof(int), A),
        (c, t) => R.ScatterAdd(t[0]!, c.X[1], c.P.Get<int>(0), c.X[2]), (c, ct) => [R.Take(ct, c.X[1], c.P.Get<int>(0)), null, null], [0], BatchRules.ScatterAdd, likeAval: 2);
    // Take and ScatterAdd with leading axes shared by the values and the indices (a batched Take with batched indices)
    public static readonly Primitive TakeBatched = Structural("TakeBatched", Lax_("TakeBatched", T, T, typeof(int), typeof(int)),
        (c, t) => new V(c.B.Apply(TakeBatched!, [t[0]!.N, c.X[1].N], c.P)),
        (c, ct) => [new V(c.B.Apply(ScatterAddBatched!, [ct.N, c.X[1].N, c.Aval(0).N], c.P)), null], [0], BatchRules.Batched);
    public static readonly Primitive ScatterAddBatched = Structural("ScatterAddBatched", Lax_("ScatterAddBatched", T, T, typeof(int), typeof(int), A),
        (c, t) => new V(c.B.Apply(ScatterAddBatched!, [t[0]!.N, c.X[1].N, c.X[2].N], c.P)),
        (c, ct) => [new V(c.B.Apply(TakeBatched!, [ct.N, c.X[1].N], c.P)), null, null], [0], BatchRules.Batched, likeAval: 2);
    public static readonly Primitive OneHot = Conversion("OneHot", Np_("OneHot", T, typeof(int), typeof(DType)), Kind.Tensor, null, null, BatchRules.WholeValue);
    public static readonly Primitive Concatenate = Structural("Concatenate", Np_("Concatenate", typeof(Tensor[]), typeof(int)),
        (c, t) => R.Concatenate(t.Select((ti, i) => ti ?? c.ZeroLike(i)).ToArray(), c.P.Get<int>(0)),
        (c, ct) =>
        {
            var parts = c.X.Select((_, i) => c.Aval(i)).ToArray();
            return c.X.Select((_, i) => c.Linear[i] ? Own(c, i, R.SplitPart(ct, c.P.Get<int>(0), i, parts)) : null).ToArray();
        }, [], BatchRules.Concatenate);
    public static readonly Primitive SplitPart = Structural("SplitPart", Lax_("SplitPart", T, typeof(int), typeof(int), typeof(Aval[])),
        (c, t) => R.SplitPart(t[0]!, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()),
        (c, ct) => [R.PadPart(ct, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()), .. c.X.Skip(1).Select(_ => (V?)null)], [0], BatchRules.Part);
    public static readonly Primitive PadPart = Structural("PadPart", Lax_("PadPart", T, typeof(int), typeof(int), typeof(Aval[])),
        (c, t) => R.PadPart(t[0]!, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()),
        (c, ct) => [R.SplitPart(ct, c.P.Get<int>(0), c.P.Get<int>(1), c.X.Skip(1).ToArray()), .. c.X.Skip(1).Select(_ => (V?)null)], [0], BatchRules.Part);
    // SumTo to the part's own aval: the cotangent of a float32 part stacked with float64 ones is float32
    public static readonly Primitive Stack = Structural("Stack", Np_("Stack", typeof(Tensor[]), typeof(int)),
        (c, t) => R.Stack(t.Select((ti, i) => ti ?? c.ZeroLike(i)).ToArray(), c.P.Get<int>(0)),
        (c, ct) => c.X.Select((_, i) => c.Linear[i] ? R.SumTo(R.Unstack(ct, R.AvalOf(ct), c.P.Get<int>(0), i), c.Aval(i)) : null).ToArray(), [], BatchRules.Stack);
    public static readonly Primitive Unstack = Structural("Unstack", Lax_("Unstack", T, A, typeof(int), typeof(int)),
        (c, t) => R.Unstack(t[0]!, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), (c, ct) => [R.StackPart(ct, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), null], [0], BatchRules.Unstack);
    public static readonly Primitive StackPart = Structural("StackPart", Lax_("StackPart", T, A, typeof(int), typeof(int)),
        (c, t) => R.StackPart(t[0]!, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), (c, ct) => [R.Unstack(ct, c.X[1], c.P.Get<int>(0), c.P.Get<int>(1)), null], [0], BatchRules.StackPart);

    // ---------------------------------------------------------------- conversions (all linear)
    public static readonly Primitive ToDouble = Conversion("ToDouble", Lax_("ToDouble", T), Kind.Double,
        (c, t) => R.ToDouble(t[0]!), (c, ct) => [R.BroadcastTo(R.FromScalar(ct), c.Aval(0))], BatchRules.ToScalar, readsScalar: true, aliases: typeof(Tensor).GetMethod("op_Explicit", [T])!);
    public static readonly Primitive ToFloat = Conversion("ToFloat", Lax_("ToFloat", T), Kind.Float,
        (c, t) => R.ToFloat(t[0]!), (c, ct) => [R.BroadcastTo(R.FromScalar(ct), c.Aval(0))], BatchRules.ToScalar, readsScalar: true);
    public static readonly Primitive FromDouble = Conversion("FromDouble", Lax_("FromDouble", D), Kind.Tensor,
        (c, t) => R.FromScalar(t[0]!), (c, ct) => [c.Unbroadcast(ct, 0)], BatchRules.WholeValue, dbl: Lax_("FromDouble", D), aliases: typeof(Tensor).GetMethod("op_Implicit", [D])!);
    public static readonly Primitive FromFloat = Conversion("FromFloat", Lax_("FromFloat", F), Kind.Tensor,
        (c, t) => R.FromScalar(t[0]!), (c, ct) => [c.Unbroadcast(ct, 0)], BatchRules.WholeValue, flt: Lax_("FromFloat", F));
    /// <summary>
    /// A tensor converted to another dtype (<c>x.AsType(d)</c>, <c>Lax.Cast(x, d)</c>). Between floats it is linear (the
    /// tangent converted alike, the cotangent converted back by SumTo to the operand's aval); a conversion to an integer
    /// or bool has no tangent, and one from an integer or bool gives none (<see cref="Lax.CastTangent"/>).
    /// </summary>
    public static readonly Primitive Cast = Conversion("Cast", Lax_("Cast", T, typeof(DType)), Kind.Tensor,
        (c, t) => DTypes.IsFloat(c.P.Get<DType>(0)) && t[0] is { } ta ? R.CastTangent(ta, c.X[0], c.P.Get<DType>(0)) : null,
        (c, ct) => [R.SumTo(ct, c.Aval(0))], BatchRules.WholeValue);
    /// <summary>The tangent of a conversion: the tangent converted when the operand is a float, zeros (no tangent) otherwise.</summary>
    public static readonly Primitive CastTangent = Structural("CastTangent", Lax_("CastTangent", T, T, typeof(DType)),
        (c, t) => R.CastTangent(t[0]!, c.X[1], c.P.Get<DType>(0)), (c, ct) => [R.SumTo(R.CastTangent(ct, c.X[1], c.P.Get<DType>(0)), c.Aval(0)), null], [0], BatchRules.Elementwise);
    /// <summary>Forward mode's tangent of an argument: the tangent passed, or zeros for an integer or bool argument (<see cref="Lax.TangentFor"/>).</summary>
    public static readonly Primitive TangentFor = Structural("TangentFor", Lax_("TangentFor", T, T),
        (c, t) => t[0] is { } ta ? R.TangentFor(ta, c.X[1]) : null, (c, ct) => [R.TangentFor(ct, c.X[1]), null], [0], BatchRules.Elementwise);
    public static readonly Primitive CastDouble = Conversion("CastDouble", null, Kind.Double, (c, t) => R.CastDouble(t[0]!), (c, ct) => [R.CastFloat(ct)], BatchRules.WholeValue);
    public static readonly Primitive CastFloat = Conversion("CastFloat", null, Kind.Float, (c, t) => R.CastFloat(t[0]!), (c, ct) => [R.CastDouble(ct)], BatchRules.WholeValue);
    public static readonly Primitive StopGradient = StopGradientOf(Np_("StopGradient", T));
    /// <summary>A static integer (a pytree's int field, an int argument) used as a number: constant w.r.t. every input.</summary>
    public static readonly Primitive IntToDouble = Conversion("IntToDouble", null, Kind.Double, null, null, BatchRules.Never);

    // ---------------------------------------------------------------- Jacobian layouts (Ad.Jacfwd, Ad.Jacrev)
    static MethodInfo JL(string name) => typeof(JacobianLayout).GetMethod(name)!;
    public static readonly Primitive Basis = Batch(Def("Basis", JL("Basis")), BatchRules.Basis);
    public static readonly Primitive RowsToJacobian = Batch(Def("RowsToJacobian", JL("FromRows")), BatchRules.FromRows);
    public static readonly Primitive JacobianToRows = Batch(Def("JacobianToRows", JL("ToRows")), BatchRules.ToRows);
    public static readonly Primitive ColumnsToJacobian = Batch(Def("ColumnsToJacobian", JL("FromColumns")), BatchRules.FromColumns);
    public static readonly Primitive JacobianToColumns = Batch(Def("JacobianToColumns", JL("ToColumns")), BatchRules.ToColumns);

    // ---------------------------------------------------------------- user rules
    /// <summary>A function with a custom rule: operands are its argument's leaves, the sub-graph its body.</summary>
    public static readonly Primitive Custom = Def("Custom");
    /// <summary>The tangent of a function with only a custom VJP: linear in its tangent operands, transposed by the user's rule.</summary>
    public static readonly Primitive CustomVjpTangent = Def("CustomVjpTangent");
    /// <summary>Identity that checks its operand's shape against an aval (guards user-written rules).</summary>
    public static readonly Primitive CheckAval = Def("CheckAval");

    // ---------------------------------------------------------------- control flow
    /// <summary><c>c ? a : b</c>: operands are the condition then the captured values; two sub-graphs, one output each.</summary>
    public static readonly Primitive Cond = Def("Cond");
    /// <summary>The loop family (<c>Np.Scan</c>, <c>Np.Fold</c>, and the derivatives of loops): operands carries, sequences, constants; params <see cref="ScanParams"/>; sub: the body; results a tuple (see <see cref="ScanRules"/>).</summary>
    public static readonly Primitive Scan = Def("Scan");
    /// <summary>The aval of a piece of a sequence cut into segments (a checkpointed Scan's derivative); see <see cref="ScanRules.SegmentAval"/>.</summary>
    public static readonly Primitive SegmentAval = Def("SegmentAval", typeof(ScanRules).GetMethod(nameof(ScanRules.SegmentAval))!);
    /// <summary><c>Np.While(cond, body, init)</c>: operands carries, constants; params <see cref="WhileParams"/>; subs: the condition, the body; results a tuple (see <see cref="WhileRules"/>).</summary>
    public static readonly Primitive While = Def("While");
    /// <summary>Result i of a node with several results (params: <see cref="ProjParams"/>); see <see cref="Tuples"/>.</summary>
    public static readonly Primitive Proj = Def("Proj");
    /// <summary>A tuple of single values (a rule handing back several results it has one by one); see <see cref="Tuples"/>.</summary>
    public static readonly Primitive Pack = Def("Pack");

    // ---------------------------------------------------------------- batching (Vmap); rules in BatchRules.cs
    /// <summary>Moves core axis <c>axis</c> to core position 0 (a vmapped argument's mapped axis to the front).</summary>
    public static readonly Primitive MoveAxisToFront = Batch(Def("MoveAxisToFront", typeof(Vmapped).GetMethod("MoveAxisToFront")!), BatchRules.MoveAxisToFront);
    /// <summary>Moves core axis 0 to core position <c>axis</c> (a batched output to its out axis).</summary>
    public static readonly Primitive MoveAxisFromFront = Batch(Def("MoveAxisFromFront", typeof(Vmapped).GetMethod("MoveAxisFromFront")!), BatchRules.MoveAxisFromFront);
    /// <summary>Inserts a size-1 axis at core position 0 (an unbatched operand meeting batched ones); also on avals.</summary>
    public static readonly Primitive AddBatchAxis = Batch(Def("AddBatchAxis", typeof(Vmapped).GetMethod("AddBatchAxis", [T])!), BatchRules.AddBatchAxis);
    /// <summary>Broadcasts core axis 0 (size 1 or B) to the batch size B held by an aval [B].</summary>
    public static readonly Primitive BroadcastBatch = Batch(Def("BroadcastBatch", typeof(Vmapped).GetMethod("BroadcastBatch")!), BatchRules.BroadcastBatch);
    /// <summary>The batch size of a vmapped call, as an aval [B], checked across the batched arguments.</summary>
    public static readonly Primitive VmapSize = Batch(Def("VmapSize", typeof(Vmapped).GetMethod("Size", [typeof(Tensor[]), typeof(string[]), typeof(int[]), typeof(int?)])!), BatchRules.VmapSize);

    // Building this table is most of a fresh process's first Ad.Grad, and the runtime JIT-compiles every method it runs
    // (docs/benchmarks.md, "Grad + Jit + first call"). So the static constructor holds the field initialisers above and
    // what follows them is a method of its own: a method with loops is compiled with the tiered JIT's instrumentation,
    // slower to compile and larger, and with this body in it the constructor would be 14 KB of IL so compiled (about 24
    // ms, against about 17 ms for its 11 KB without). The vocabulary families (see Vocabulary) are declared on first need.
    static Prims() => DeclareTheRest();

    /// <summary>
    /// The families beyond the core: jax.numpy's elementwise, shape, reduction and cumulative vocabulary, contractions,
    /// convolutions, pooling, sorting and indexing (about 90 primitives, none of them needed by a program that does not
    /// call them). Their primitives are properties whose getter declares all of them on first use, in this class's static
    /// constructor: the runtime runs it once, on one thread, and a getter called while it runs (a family reading
    /// another's primitive) sees the declaration so far, as the table's own constructor does. Looking up a method that is
    /// not a core primitive declares them (<see cref="ForMethod"/>, <see cref="PiecesOf"/>), and <see cref="All"/> and
    /// <see cref="Composites"/> include them. A family declared here sets slots of its own primitives only; the core's
    /// slots are all set in the table's constructor.
    /// </summary>
    static class Vocabulary
    {
        static Vocabulary()
        {
            int from = all.Count;
            var core = new HashSet<MethodInfo>(byMethod.Keys);
            DeclareConvolutions();
            DeclarePooling();
            DeclareElementwiseVocabulary();
            DeclareShapeVocabulary();
            DeclareReductionVocabulary();
            DeclareCumulativeVocabulary();
            DeclareContractions();
            DeclareSorting();
            DeclareIndexing();
            DeclareFlattened();
            var declared = all.GetRange(from, all.Count - from);
            AcceptEveryDType(declared);
            BatchRules.CheckEveryPrimitiveBatches(declared);
            // the reader declares the vocabulary when a call is not a core primitive: a core method read another way here
            // would be read differently before and after
            foreach (var m in readsAs.Keys.Concat(piecesOf.Keys))
                if (core.Contains(m))
                    throw new InvalidOperationException($"Internal error: the vocabulary reads {m.DeclaringType?.Name}.{m.Name}, a core primitive's method.");
        }

        /// <summary>Declares the vocabulary if it is not yet (thread-safe: the runtime's type initialisation).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        internal static void Ensure() => GC.KeepAlive(Marker);

        // a static field read: it runs the static constructor first, if it has not run
        static readonly object Marker = new();
    }

    /// <summary>Declares the vocabulary families now if they are not yet (see <see cref="Vocabulary"/>).</summary>
    public static void EnsureVocabulary() => Vocabulary.Ensure();

    /// <summary>Structural, selection and conversion primitives take every dtype.</summary>
    static void AcceptEveryDType(IEnumerable<Primitive> ps)
    {
        foreach (var p in ps)
            if (p.Family is PrimFamily.Structural or PrimFamily.Conversion || p == Where || p == StopGradient)
                p.Accepts = DTypeSets.All;
    }

    static void DeclareTheRest()
    {
        // --- the gather family's shape rules (core primitives)
        DeclareGatherShapeRules();

        // --- the dtype column beyond the families' defaults: float-only functions promote integer and bool operands to
        // float32 (as jax.numpy does); structural, selection and conversion primitives take every dtype; Argmax gives int32
        foreach (var p in new[] { Exp, Log, Tanh, Sin, Cos, Sqrt, Sigmoid, Softplus, Log1p, Expm1, Erf, Atan, Pow })
        {
            p.Accepts = DTypeSets.All;
            p.Gives = DTypeSets.FloatResult;
        }
        AcceptEveryDType(all);
        Argmax.Gives = _ => DType.Int32;
        // means and log-sum-exps of integers are floats (jax.numpy); a sum of bools counts them (int32)
        foreach (var p in new[] { Mean, LogSumExp, Softmax, LogSoftmax })
        {
            p.Accepts = DTypeSets.All;
            p.Gives = DTypeSets.FloatResult;
        }
        Sum.Accepts = DTypeSets.All;
        Sum.Gives = d => d == DType.Bool ? DType.Int32 : d;
        Input.Foldable = Const.Foldable = false;
        InferAval.Foldable = true;

        // --- shape helpers
        AvalOf.KindRule = (_, _, _) => Kind.Aval; AvalOf.ZeroDerivative = true;
        InferAval.KindRule = (_, _, _) => Kind.Aval; InferAval.ZeroDerivative = true;
        InferAval.EmitRule = (a, k, p, _) => Expression.Call(Rt_("InferAval", typeof(Primitive), typeof(Params), typeof(Kind[]), typeof(Aval[]), typeof(int)),
            Expression.Constant(p[0], typeof(Primitive)), Expression.Constant(p[1], typeof(Params)), Expression.Constant(p[2], typeof(Kind[])), Expression.NewArrayInit(typeof(Aval), a),
            Expression.Constant(p.Count > 3 ? p[3] : 0, typeof(int)));
        // printed as what it computes: the aval of the primitive run on zeros of its operands' avals
        InferAval.FormatRule = (a, _, p) => Printer.InferAvalCall(p.Get<Primitive>(0), p.Get<Params>(1), p.Get<Kind[]>(2), a, InferAvalBatch(p));
        GradSeed.Foldable = false;
        GradSeed.ShapeRule = (p, a) => Rt.GradSeedAval(a[0], p.Get<FunctionText>(0));
        // SumTo to its operand's own shape (a dtype it keeps): the operand's aval, found without running it
        SumTo.KnownAval = (k, a) => a.Length == 2 && k[0] == Kind.Tensor && k[1] == Kind.Aval
            && SmallArrays.Same(a[0].Dims, a[1].Dims) && (a[1].Weak || a[0].DType == a[1].DType) ? a[0] : null;
        GradSeed.FormatRule = (a, _, _) => $"Lax.GradSeed({a[0]})";
        SplitPart.NonDiff = PadPart.NonDiff = SmallArrays.Range(1, 64);

        // --- IEEE-exact rewrites only: x*1, x/1, --x; signs pulled out of products and into subtractions; commutative
        // operands in a canonical order so that a*b and b*a are one node
        Add.Rewrite = (b, a, _) => a[1].Op == Neg ? b.Apply(Sub, [a[0], a[1].Args[0]]) : a[0].Op == Neg ? b.Apply(Sub, [a[1], a[0].Args[0]]) : a[0].Id > a[1].Id ? b.Apply(Add, [a[1], a[0]]) : null;
        Sub.Rewrite = (b, a, _) => a[1].Op == Neg ? b.Apply(Add, [a[0], a[1].Args[0]]) : null;
        Mul.Rewrite = (b, a, _) => IsOne(a[0], a[1]) ? a[1] : IsOne(a[1], a[0]) ? a[0] :
            a[0].Op == Neg ? b.Apply(Neg, [b.Apply(Mul, [a[0].Args[0], a[1]])]) :
            a[1].Op == Neg ? b.Apply(Neg, [b.Apply(Mul, [a[0], a[1].Args[0]])]) :
            a[0].Id > a[1].Id ? b.Apply(Mul, [a[1], a[0]]) : null;
        Div.Rewrite = (b, a, _) => IsOne(a[1], a[0]) ? a[0] : a[0].Op == Neg ? b.Apply(Neg, [b.Apply(Div, [a[0].Args[0], a[1]])]) : null;
        Neg.Rewrite = (b, a, _) => a[0].Op == Neg ? a[0].Args[0] : null;
        Mul.UnitIdentityAt = [0, 1];
        Div.UnitIdentityAt = [1];

        // --- C# spellings of scalar conversions and selections
        Where.NonDiff = [0];
        Where.KindRule = (k, _, _) => k[1] == Kind.Tensor || k[2] == Kind.Tensor || k[0] == Kind.Tensor ? Kind.Tensor : k[1] == Kind.Double || k[2] == Kind.Double ? Kind.Double : Kind.Float;
        Where.EmitRule = (a, k, prm, _) =>
        {
            if (k[0] == Kind.Bool)
            {
                var type = Where.KindOf(k, prm, []).ClrType();
                return Expression.Condition(a[0], Primitive.Conv(a[1], type), Primitive.Conv(a[2], type));
            }
            return Primitive.CallWith(Where.TensorMethod!, a, prm);
        };
        Where.FormatRule = (a, k, _) => k[0] == Kind.Bool ? $"{a[0]} ? {a[1]} : {a[2]}" : $"Np.Where({a[0]}, {a[1]}, {a[2]})";
        Neg.Infix = "-";
        Neg.EmitRule = (a, _, _, _) => Expression.Negate(a[0]);
        FromDouble.EmitRule = (a, _, _, _) => Expression.Call(Lax_("FromDouble", D), a[0]);
        FromFloat.EmitRule = (a, _, _, _) => Expression.Call(Lax_("FromFloat", F), a[0]);
        CastDouble.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(double));
        CastDouble.FormatRule = (a, _, _) => $"(double){a[0]}";
        CastFloat.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(float));
        CastFloat.FormatRule = (a, _, _) => $"(float){a[0]}";
        IntToDouble.EmitRule = (a, _, _, _) => Expression.Convert(a[0], typeof(double));
        IntToDouble.FormatRule = (a, _, _) => $"(double){a[0]}";

        // --- control flow
        // --- structural slots: graph leaves, what sees whole values under Vmap, shape classes, the helpers' shape rules,
        // and the primitives that keep a masked cotangent
        Input.Leaf = LeafKind.Input;
        Const.Leaf = LeafKind.Const;

        // leaves and shape helpers see whole values: a batched operand does not give them a batch count
        foreach (var p in new[] { Input, Const, AvalOf, InferAval, Zeros, Ones })
            p.AlwaysUnbatched = true;

        // AvalOf describes its operand; GradSeed is ones shaped like it: both read their operand's aval only
        AvalOf.ClassOfOperand = 0;
        GradSeed.ClassOfOperand = 0;
        AvalOf.ReadsAvalsOnly = GradSeed.ReadsAvalsOnly = true;
        // a C# double made a tensor is a weak scalar
        FromDouble.WeakScalarResult = true;

        AvalOf.AvalRule = (_, a) => a[0];
        InferAval.AvalRule = (n, a) => Rt.InferAval(n.Params.Get<Primitive>(0), n.Params.Get<Params>(1), n.Params.Get<Kind[]>(2), a, InferAvalBatch(n.Params));
        // InferAval's last parameter is the batch count of the node it describes: one more batch axis there too
        InferAval.ShiftBatch = (p, by) => new Params(p[0], p[1], p[2], InferAvalBatch(p) + by);

        // reverse mode's "double where": Where masks the cotangents it sends; these keep a mask as elementwise primitives do
        Where.MasksCotangents = true;
        foreach (var p in new[] { SumTo, BroadcastTo, CastDouble, CastFloat })
            p.KeepsCotangentMask = true;
        CondRules.Install(Cond);
        Tuples.Install();
        ScanRules.Install();
        WhileRules.Install();
        CustomRules.Install(Custom, CustomVjpTangent, CheckAval);

        // --- Jacobian layouts: permutations and reshapes, linear in their first operand; the second gives shapes only
        Basis.ZeroDerivative = true;
        foreach (var (p, inverse) in new[] { (RowsToJacobian, JacobianToRows), (JacobianToRows, RowsToJacobian), (ColumnsToJacobian, JacobianToColumns), (JacobianToColumns, ColumnsToJacobian) })
        {
            p.NonDiff = [1];
            p.Jvp = (c, t) => new V(c.B.Apply(p, [t[0]!.N, c.X[1].N], new Params(0)));
            p.Transpose = (c, ct) => [new V(c.B.Apply(inverse, [ct.N, c.X[1].N], new Params(0))), null];
        }
        foreach (var p in new[] { Basis, RowsToJacobian, JacobianToRows, ColumnsToJacobian, JacobianToColumns })
            p.FormatRule = (a, _, _) => $"JacobianLayout.{p.TensorMethod!.Name}({string.Join(", ", a)})";

        // --- how Vmap's moves lay out their operand (the jit's batch loop looks through them)
        MoveAxisToFront.RelayoutOf = MoveAxisFromFront.RelayoutOf = prm => prm.Count > 0 && prm[0] is int axis && axis == 0 ? Relayout.Same : Relayout.Other;
        AddBatchAxis.RelayoutOf = _ => Relayout.UnitAxisInFront;
        BroadcastBatch.RelayoutOf = _ => Relayout.BroadcastAxis0;

        // --- the structural primitives of Vmap: kinds, JVPs, transposes and printing (all linear in their first operand)
        var mf = Prims.MoveAxisToFront;
        var mb = Prims.MoveAxisFromFront;
        mf.Jvp = (c, t) => Ap(mf, [t[0]!], c.P);
        mf.Transpose = (c, ct) => [Ap(mb, [ct], c.P)];
        mb.Jvp = (c, t) => Ap(mb, [t[0]!], c.P);
        mb.Transpose = (c, ct) => [Ap(mf, [ct], c.P)];
        foreach (var p in new[] { mf, mb })
        {
            var prim = p;
            p.FormatRule = (a, _, prm) => $"Lax.{prim.Name}({a[0]}, {prm[0]})";
        }

        var add = Prims.AddBatchAxis;
        add.KindRule = (k, _, _) => k[0] == Kind.Aval ? Kind.Aval : Kind.Tensor;
        add.EmitRule = (a, k, _, _) => Expression.Call(typeof(Vmapped).GetMethod(nameof(Vmapped.AddBatchAxis), [k[0] == Kind.Aval ? typeof(Aval) : typeof(Tensor)])!,
            Primitive.Conv(a[0], k[0] == Kind.Aval ? typeof(Aval) : typeof(Tensor)));
        add.FormatRule = (a, _, _) => $"Lax.AddBatchAxis({a[0]})";
        add.Jvp = (c, t) => Ap(add, [t[0]!], c.P);
        add.Transpose = (c, ct) => [R.Sum(ct, 0, false)];

        var bb = Prims.BroadcastBatch;
        bb.NonDiff = [1];
        bb.FormatRule = (a, _, _) => $"Lax.BroadcastBatch({a[0]}, {a[1]})";
        bb.Jvp = (c, t) => Ap(bb, [t[0]!, c.X[1]], c.P);
        bb.Transpose = (c, ct) => [R.SumTo(ct, c.Aval(0)), null];

        var size = Prims.VmapSize;
        size.KindRule = (_, _, _) => Kind.Aval;
        size.ZeroDerivative = true;
        size.FormatRule = (a, _, prm) => $"Lax.BatchSize([{string.Join(", ", a)}], [{string.Join(", ", prm.Get<string[]>(0).Select(Printer.Literal))}], [{string.Join(", ", prm.Get<int[]>(1))}], {(prm[2] is int n ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")})";

        // --- printing: what has no public C# spelling (the tangent of a reverse-only custom rule, which cannot run)
        CustomVjpTangent.NoPublicSpelling = true;

        // a select on a C# bool condition brings both values to one batched shape
        Batch(Where, BatchRules.Where);

        // --- Vmap of C# scalar code: a double computed from a batched value is carried as a batched rank-0 tensor, as JAX
        // carries a batched scalar; these say how they are written on it (a float is not: its rounding to float32 has
        // no tensor form here, so ToFloat and CastFloat refuse it)
        static bool Carried(Node[] a) => a.Any(x => x.Kind == Kind.Tensor);
        ToDouble.ScalarAsTensor = (b, a, k) => b.Apply(Reshape, [a[0]], new Params(Array.Empty<int>()), null, k);
        CastDouble.ScalarAsTensor = (b, a, k) => Carried(a) ? a[0] : null;
        FromDouble.ScalarAsTensor = FromFloat.ScalarAsTensor = (b, a, k) => Carried(a) ? a[0] : null;
        NotEqual.ScalarAsTensor = (b, a, k) => Carried(a) ? b.Apply(Not, [b.Apply(Equal, a, null, null, k)], null, null, k) : null;
        // && || ! of bool masks (every operand must be carried: a C# bool meeting a mask has no tensor form here)
        And.ScalarAsTensor = (b, a, k) => a.All(x => x.Kind == Kind.Tensor) ? b.Apply(And, a, null, null, k) : null;
        Or.ScalarAsTensor = (b, a, k) => a.All(x => x.Kind == Kind.Tensor) ? b.Apply(Or, a, null, null, k) : null;
        Not.ScalarAsTensor = (b, a, k) => a.All(x => x.Kind == Kind.Tensor) ? b.Apply(Not, a, null, null, k) : null;

        foreach (var p in new[] { MoveAxisToFront, MoveAxisFromFront, AddBatchAxis, BroadcastBatch })
            p.VmapMove = true;

        // --- batching rules of the control primitives, and the check that every primitive declared so far has one
        BatchRules.Install(all);
    }

    static MethodInfo SM(string name, Type t) => typeof(ScalarMath).GetMethod(name, [t])!;

    /// <summary>
    /// A logical operator: on C# bools (conditions of <c>c ? a : b</c>) the C# operator; on tensors (masks) the elementwise
    /// <c>Np.LogicalAnd</c>/<c>LogicalOr</c>/<c>LogicalNot</c> (operators <c>&amp;</c>, <c>|</c>, <c>!</c>), a bool tensor. Zero derivative.
    /// </summary>
    static Primitive Logical(string name, ExpressionType op, string infix, MethodInfo tensor, string tensorInfix, params MethodInfo[] aliases)
    {
        var p = Def(name, tensor, aliases: aliases);
        p.Family = PrimFamily.BinaryElementwise;
        p.ZeroDerivative = true;
        p.Infix = infix;
        p.Accepts = DTypeSets.All;
        p.Gives = _ => DType.Bool;
        p.KindRule = (k, _, _) => k.Contains(Kind.Tensor) ? Kind.Tensor : Kind.Bool;
        p.EmitRule = (a, k, prm, _) => k.Contains(Kind.Tensor) ? Primitive.CallWith(tensor, a, prm)
            : a.Length == 1 ? Expression.MakeUnary(op, a[0], a[0].Type) : Expression.MakeBinary(op, a[0], a[1]);
        p.FormatRule = (a, k, _) => !k.Contains(Kind.Tensor) ? (a.Length == 1 ? $"{infix}{a[0]}" : $"{a[0]} {infix} {a[1]}")
            : a.Length == 1 ? $"{tensorInfix}{a[0]}" : $"{a[0]} {tensorInfix} {a[1]}";
        // element code on masks carried as 0/1 (or numbers, true where non-zero) in a float type, as the jit computes them
        static Expression True(Expression x, Type t) => Expression.NotEqual(x, Primitive.Conv(Expression.Constant(0.0), t));
        static Expression ZeroOne(Expression b, Type t) => Expression.Condition(b, Primitive.Conv(Expression.Constant(1.0), t), Primitive.Conv(Expression.Constant(0.0), t));
        p.Scalar = (x, t) => op switch
        {
            ExpressionType.AndAlso => ZeroOne(Expression.AndAlso(True(x[0], t), True(x[1], t)), t),
            ExpressionType.OrElse => ZeroOne(Expression.OrElse(True(x[0], t), True(x[1], t)), t),
            _ => ZeroOne(Expression.Not(True(x[0], t)), t),
        };
        p.Vector = (v, x) => op switch
        {
            ExpressionType.AndAlso => v.Call("Where", x[0], v.Call("NotEqual", x[1], v.K(0)), v.K(0)),
            ExpressionType.OrElse => v.Call("Where", x[0], v.K(1), v.Call("NotEqual", x[1], v.K(0))),
            _ => v.Call("Equal", x[0], v.K(0)),
        };
        p.Cpu = new CpuLowering { Result = EagerResult.Fresh };
        return Batch(p, BatchRules.Elementwise);
    }

    /// <summary>The identity with a zero derivative; its eager result is its operand itself (a view, for the arenas).</summary>
    static Primitive StopGradientOf(MethodInfo tensor)
    {
        var p = Unary("StopGradient", tensor, (x, _) => x[0], Vec("Id"), null);
        p.Cpu = new CpuLowering { Result = EagerResult.View };
        return p;
    }

    /// <summary>erf x by its series of positive terms, 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x / (1 3 5 ... (2n+1)), which
    /// converges for every x without cancellation; |erf x| rounds to 1 beyond |x| = 6.</summary>
    static double ScalarErf(double x)
    {
        if (double.IsNaN(x)) return x;
        if (Math.Abs(x) >= 6) return Math.Sign(x);
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
    }

    /// <summary>The batch count of the node an <c>InferAval</c> describes (its optional fourth parameter).</summary>
    static int InferAvalBatch(Params p) => p.Count > 3 ? (int)p[3]! : 0;

    static V Ap(Primitive p, V[] xs, Params prm) => new(xs[0].B.Apply(p, xs.Select(x => x.N).ToArray(), prm));

    static V? NotLinear(RuleCtx c, string name, int i) =>
        c.Linear[i] ? throw new InvalidOperationException($"Internal error: {name} is not linear in operand {i}.") : null;

    static bool IsOne(Node c, Node other) =>
        c.IsConst && (c.Value is double d && d == 1.0 && other.Kind is Kind.Double or Kind.Tensor
                   || c.Value is float f && f == 1f && other.Kind == Kind.Float);

    static int[]? Inverse(int[]? perm)
    {
        if (perm is null) return null;
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i] < 0 ? perm[i] + perm.Length : perm[i]] = i;
        return inv;
    }

    /// <summary>A cotangent cast to the dtype of operand <paramref name="i"/> (SumTo to its own aval casts, as for broadcasting ops).</summary>
    static V Own(RuleCtx c, int i, V ct) => R.SumTo(ct, c.Aval(i));

    static V WhereZero(RuleCtx c, int i) => c.X[0].Kind == Kind.Bool ? c.ZeroLike(i) : c.X[i].Const(0);

    static V? MinMaxJvp(RuleCtx c, V?[] t, V wins, V loses)
    {
        var ta = t[0] ?? c.X[0].Const(0);
        var tb = t[1] ?? c.X[1].Const(0);
        if (c.X[0].Kind == Kind.Tensor && t[0] is null) ta = R.ZerosOf(c.X[0]);
        if (c.X[1].Kind == Kind.Tensor && t[1] is null) tb = R.ZerosOf(c.X[1]);
        return c.BroadcastToAns(R.Where(wins, ta, R.Where(loses, tb, (ta + tb) * 0.5)));
    }
}
