using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The elementwise vocabulary of jax.numpy and jax.nn beyond the core: inverse and hyperbolic trigonometry, the error
/// and gamma families, rounding, floored division, log-add-exp and the activations. Each is one declaration through
/// its family. They are made by <see cref="DeclareElementwiseVocabulary"/>, with the rest of the vocabulary on first need
/// (after the table's own fields, <c>all</c> among them, exist, whatever order the partial files initialise in).
/// </summary>
internal static partial class Prims
{
    static MethodInfo SM1(string name, Type t) => typeof(ScalarMath).GetMethod(name, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [t])
        ?? throw new MissingMethodException(nameof(ScalarMath), name);
    static MethodInfo SM2(string name, Type t) => typeof(ScalarMath).GetMethod(name, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [t, t])
        ?? throw new MissingMethodException(nameof(ScalarMath), name);

    static V Ap1(Primitive p, V x) => new(x.B.Apply(p, [x.N]));
    static V Ap2(Primitive p, V a, V b) => new(a.B.Apply(p, [a.N, b.N]));
    static V Sqrt_(V x) => Ap1(Sqrt, x);

    /// <summary>A float-only function of one operand given by its float64 and float32 scalar functions (see <see cref="UnaryFn"/>).</summary>
    static Primitive FloatFn(string name, Func<double, double> f64, Func<float, float> f32, JvpRule jvp, MethodInfo? dbl = null, MethodInfo? flt = null, MethodInfo? tensor = null)
    {
        var p = UnaryFn(name, tensor ?? Np_(name, T), f64, f32, jvp, dbl: dbl, flt: flt);
        p.Accepts = DTypeSets.All;
        p.Gives = DTypeSets.FloatResult;
        return p;
    }

    /// <summary>A float-only function given by <c>ScalarMath.Name(double)</c> and <c>ScalarMath.Name(float)</c>, which are also its spellings in C# scalar code.</summary>
    static Primitive FloatFn(string name, JvpRule jvp)
    {
        var d = SM1(name, D); var f = SM1(name, F);
        return FloatFn(name, d.CreateDelegate<Func<double, double>>(), f.CreateDelegate<Func<float, float>>(), jvp, d, f);
    }

    /// <summary>A float-only <c>Math</c> function: the tensor kernels run <c>Math.Name</c> in double (float32 rounded once); <c>Math.Name</c> and <c>MathF.Name</c> read in scalar code.</summary>
    static Primitive MathFn(string name, JvpRule jvp, string? netName = null) =>
        FloatFn(name, Math_(netName ?? name, D).CreateDelegate<Func<double, double>>(), SM1(netName ?? name, F).CreateDelegate<Func<float, float>>(), jvp,
            Math_(netName ?? name, D), MathF_(netName ?? name, F));

    /// <summary>
    /// A binary elementwise primitive given by two scalar methods (double and float), its element code and lanes; they are
    /// its spellings in C# scalar code too, unless <paramref name="fltSpelling"/> names the public float one (<c>MathF.Atan2</c>).
    /// </summary>
    static Primitive Binary2(string name, MethodInfo dbl, MethodInfo flt, JvpRule? jvp, bool floatOnly, MethodInfo? fltSpelling = null)
    {
        var p = Binary(name, Np_(name, T, T), Calls(dbl, flt), LanesOf(dbl, flt), jvp, dbl: dbl, flt: fltSpelling ?? flt);
        if (floatOnly)
        {
            p.Accepts = DTypeSets.All;
            p.Gives = DTypeSets.FloatResult;
        }
        return p;
    }

    /// <summary>A test of each element (NaN, finite): a bool tensor on tensors, a C# <c>bool</c> on scalars (<c>double.IsNaN</c>); zero derivative.</summary>
    static Primitive Predicate(string name, Func<Expression, Expression> test, VectorForm vector, MethodInfo dbl, MethodInfo flt)
    {
        ScalarForm scalar = (x, t) => Expression.Condition(test(x[0]), Primitive.Conv(Expression.Constant(1.0), t), Primitive.Conv(Expression.Constant(0.0), t));
        var p = Unary(name, Np_(name, T), scalar, vector, null, dbl, flt);
        p.Accepts = DTypeSets.All;
        p.Gives = _ => DType.Bool;
        p.KindRule = (k, _, _) => k.Contains(Kind.Tensor) ? Kind.Tensor : Kind.Bool;
        p.ScalarAsTensor = (b, a, k) => a.Any(x => x.Kind == Kind.Tensor) ? b.Apply(p, a, null, null, k) : null;
        return p;
    }

    // inverse and hyperbolic trigonometry, tan
    public static Primitive Asin { get { if (asin is null) Vocabulary.Ensure(); return asin!; } private set => asin = value; }
    static Primitive? asin;
    public static Primitive Acos { get { if (acos is null) Vocabulary.Ensure(); return acos!; } private set => acos = value; }
    static Primitive? acos;
    public static Primitive Atan2 { get { if (atan2 is null) Vocabulary.Ensure(); return atan2!; } private set => atan2 = value; }
    static Primitive? atan2;
    public static Primitive Sinh { get { if (sinh is null) Vocabulary.Ensure(); return sinh!; } private set => sinh = value; }
    static Primitive? sinh;
    public static Primitive Cosh { get { if (cosh is null) Vocabulary.Ensure(); return cosh!; } private set => cosh = value; }
    static Primitive? cosh;
    public static Primitive Asinh { get { if (asinh is null) Vocabulary.Ensure(); return asinh!; } private set => asinh = value; }
    static Primitive? asinh;
    public static Primitive Acosh { get { if (acosh is null) Vocabulary.Ensure(); return acosh!; } private set => acosh = value; }
    static Primitive? acosh;
    public static Primitive Atanh { get { if (atanh is null) Vocabulary.Ensure(); return atanh!; } private set => atanh = value; }
    static Primitive? atanh;
    public static Primitive Tan { get { if (tan is null) Vocabulary.Ensure(); return tan!; } private set => tan = value; }
    static Primitive? tan;
    // the error and gamma families
    public static Primitive Erfc { get { if (erfc is null) Vocabulary.Ensure(); return erfc!; } private set => erfc = value; }
    static Primitive? erfc;
    public static Primitive ErfInv { get { if (erfInv is null) Vocabulary.Ensure(); return erfInv!; } private set => erfInv = value; }
    static Primitive? erfInv;
    public static Primitive Lgamma { get { if (lgamma is null) Vocabulary.Ensure(); return lgamma!; } private set => lgamma = value; }
    static Primitive? lgamma;
    public static Primitive Digamma { get { if (digamma is null) Vocabulary.Ensure(); return digamma!; } private set => digamma = value; }
    static Primitive? digamma;
    public static Primitive Polygamma { get { if (polygamma is null) Vocabulary.Ensure(); return polygamma!; } private set => polygamma = value; }
    static Primitive? polygamma;
    // rounding (zero derivative) and floored division
    public static Primitive Floor { get { if (floor is null) Vocabulary.Ensure(); return floor!; } private set => floor = value; }
    static Primitive? floor;
    public static Primitive Ceil { get { if (ceil is null) Vocabulary.Ensure(); return ceil!; } private set => ceil = value; }
    static Primitive? ceil;
    public static Primitive Round { get { if (round is null) Vocabulary.Ensure(); return round!; } private set => round = value; }
    static Primitive? round;
    public static Primitive Trunc { get { if (trunc is null) Vocabulary.Ensure(); return trunc!; } private set => trunc = value; }
    static Primitive? trunc;
    public static Primitive Mod { get { if (mod is null) Vocabulary.Ensure(); return mod!; } private set => mod = value; }
    static Primitive? mod;
    public static Primitive FloorDivide { get { if (floorDivide is null) Vocabulary.Ensure(); return floorDivide!; } private set => floorDivide = value; }
    static Primitive? floorDivide;
    // powers, norms, log-sums
    public static Primitive LogAddExp { get { if (logAddExp is null) Vocabulary.Ensure(); return logAddExp!; } private set => logAddExp = value; }
    static Primitive? logAddExp;
    public static Primitive Rsqrt { get { if (rsqrt is null) Vocabulary.Ensure(); return rsqrt!; } private set => rsqrt = value; }
    static Primitive? rsqrt;
    public static Primitive Cbrt { get { if (cbrt is null) Vocabulary.Ensure(); return cbrt!; } private set => cbrt = value; }
    static Primitive? cbrt;
    public static Primitive Hypot { get { if (hypot is null) Vocabulary.Ensure(); return hypot!; } private set => hypot = value; }
    static Primitive? hypot;
    // tests
    public static Primitive IsNan { get { if (isNan is null) Vocabulary.Ensure(); return isNan!; } private set => isNan = value; }
    static Primitive? isNan;
    public static Primitive IsFinite { get { if (isFinite is null) Vocabulary.Ensure(); return isFinite!; } private set => isFinite = value; }
    static Primitive? isFinite;
    // activations (jax.nn)
    public static Primitive Gelu { get { if (gelu is null) Vocabulary.Ensure(); return gelu!; } private set => gelu = value; }
    static Primitive? gelu;
    public static Primitive GeluTanh { get { if (geluTanh is null) Vocabulary.Ensure(); return geluTanh!; } private set => geluTanh = value; }
    static Primitive? geluTanh;
    public static Primitive Silu { get { if (silu is null) Vocabulary.Ensure(); return silu!; } private set => silu = value; }
    static Primitive? silu;
    public static Primitive LeakyRelu { get { if (leakyRelu is null) Vocabulary.Ensure(); return leakyRelu!; } private set => leakyRelu = value; }
    static Primitive? leakyRelu;
    public static Primitive Elu { get { if (elu is null) Vocabulary.Ensure(); return elu!; } private set => elu = value; }
    static Primitive? elu;
    public static Primitive LogSigmoid { get { if (logSigmoid is null) Vocabulary.Ensure(); return logSigmoid!; } private set => logSigmoid = value; }
    static Primitive? logSigmoid;

    static void DeclareElementwiseVocabulary()
    {
        const double TwoOverSqrtPi = 1.12837916709551257390, SqrtPiOverTwo = 0.88622692545275801365, InvSqrt2 = 0.70710678118654752440,
            InvSqrt2Pi = 0.39894228040143267794;

        Asin = MathFn("Asin", (c, t) => t[0]! / Sqrt_((1 - c.X[0]) * (1 + c.X[0])));
        Acos = MathFn("Acos", (c, t) => -(t[0]! / Sqrt_((1 - c.X[0]) * (1 + c.X[0]))));
        Sinh = MathFn("Sinh", (c, t) => t[0]! * Ap1(Cosh!, c.X[0]));
        Cosh = MathFn("Cosh", (c, t) => t[0]! * Ap1(Sinh, c.X[0]));
        Asinh = MathFn("Asinh", (c, t) => t[0]! / Sqrt_(c.X[0] * c.X[0] + 1));
        // 1/sqrt(x^2 - 1) written (x - 1)(x + 1): no cancellation near 1
        Acosh = MathFn("Acosh", (c, t) => t[0]! / Sqrt_((c.X[0] - 1) * (c.X[0] + 1)));
        Atanh = MathFn("Atanh", (c, t) => t[0]! / ((1 - c.X[0]) * (1 + c.X[0])));
        Tan = MathFn("Tan", (c, t) => t[0]! * (1 + c.Ans! * c.Ans!));
        // d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
        Atan2 = Binary2("Atan2", Math_("Atan2", D, D), SM2("Atan2", F), (c, t) =>
        {
            var r2 = c.X[0] * c.X[0] + c.X[1] * c.X[1];
            return Sum2(t[0] is { } ty ? ty * (c.X[1] / r2) : null, t[1] is { } tx ? -(tx * (c.X[0] / r2)) : null);
        }, floatOnly: true, MathF_("Atan2", F, F));

        Erfc = FloatFn("Erfc", (c, t) => t[0]! * (-TwoOverSqrtPi * R.Exp(-(c.X[0] * c.X[0]))));
        // d erfinv(y) = sqrt(pi)/2 e^(erfinv(y)^2) dy
        ErfInv = FloatFn("ErfInv", (c, t) => t[0]! * (SqrtPiOverTwo * R.Exp(c.Ans! * c.Ans!)));
        Lgamma = FloatFn("Lgamma", (c, t) => t[0]! * Ap1(Digamma!, c.X[0]));
        // psi'(x) = polygamma(1, x); the order operand is not differentiable
        Digamma = FloatFn("Digamma", (c, t) => t[0]! * Ap2(Polygamma!, c.X[0].Const(1), c.X[0]));
        Polygamma = Binary2("Polygamma", SM2("Polygamma", D), SM2("Polygamma", F),
            (c, t) => t[1] is { } tx ? tx * Ap2(Polygamma!, c.X[0] + 1, c.X[1]) : null, floatOnly: true);
        Polygamma.NonDiff = [0];

        // rounding: integers are returned as they are (jax.numpy's floor of an int array is that array); zero derivative
        Floor = Unary("Floor", Np_("Floor", T), Calls(Math_("Floor", D), MathF_("Floor", F)), LanesOf(Math_("Floor", D), MathF_("Floor", F)), null, Math_("Floor", D), MathF_("Floor", F));
        Ceil = Unary("Ceil", Np_("Ceil", T), Calls(Math_("Ceiling", D), MathF_("Ceiling", F)), LanesOf(Math_("Ceiling", D), MathF_("Ceiling", F)), null, Math_("Ceiling", D), MathF_("Ceiling", F));
        // half to even, as numpy, JAX and Math.Round's default
        Round = Unary("Round", Np_("Round", T), Calls(Math_("Round", D), MathF_("Round", F)), LanesOf(Math_("Round", D), MathF_("Round", F)), null, Math_("Round", D), MathF_("Round", F));
        Trunc = Unary("Trunc", Np_("Trunc", T), Calls(Math_("Truncate", D), MathF_("Truncate", F)), LanesOf(Math_("Truncate", D), MathF_("Truncate", F)), null, Math_("Truncate", D), MathF_("Truncate", F));
        // floored: d(a mod b) = da - floor(a / b) db, and floor(a / b) = (a - a mod b) / b
        Mod = Binary2("Mod", SM2("Mod", D), SM2("Mod", F),
            (c, t) => Sum2(t[0] is { } ta ? c.BroadcastToAns(ta) : null, t[1] is { } tb ? c.BroadcastToAns(-(tb * ((c.X[0] - c.Ans!) / c.X[1]))) : null), floatOnly: false);
        FloorDivide = Binary2("FloorDivide", SM2("FloorDivide", D), SM2("FloorDivide", F), null, floatOnly: false);

        // d logaddexp(a, b) = e^(a - ans) da + e^(b - ans) db
        LogAddExp = Binary2("LogAddExp", SM2("LogAddExp", D), SM2("LogAddExp", F),
            (c, t) => Sum2(t[0] is { } ta ? ta * R.Exp(c.X[0] - c.Ans!) : null, t[1] is { } tb ? tb * R.Exp(c.X[1] - c.Ans!) : null), floatOnly: true);
        Rsqrt = FloatFn("Rsqrt", (c, t) => t[0]! * (c.Ans! * c.Ans! * c.Ans!) * -0.5);
        Cbrt = FloatFn("Cbrt", Math.Cbrt, SM1("Cbrt", F).CreateDelegate<Func<float, float>>(), (c, t) => t[0]! / (3 * (c.Ans! * c.Ans!)), Math_("Cbrt", D), MathF_("Cbrt", F));
        // d hypot(a, b) = (a da + b db) / hypot(a, b)
        Hypot = Binary2("Hypot", typeof(double).GetMethod("Hypot", [D, D])!, SM2("Hypot", F),
            (c, t) => Sum2(t[0] is { } ta ? ta * c.X[0] : null, t[1] is { } tb ? tb * c.X[1] : null)! / c.Ans!, floatOnly: true,
            typeof(float).GetMethod("Hypot", [F, F])!);

        IsNan = Predicate("IsNan", x => Expression.NotEqual(x, x), (v, x) => v.Call("NotEqual", x[0], x[0]),
            typeof(double).GetMethod("IsNaN", [D])!, typeof(float).GetMethod("IsNaN", [F])!);
        // finite: x - x is 0 (inf - inf and NaN - NaN are NaN)
        IsFinite = Predicate("IsFinite", x => Expression.Equal(Expression.Subtract(x, x), Primitive.Conv(Expression.Constant(0.0), x.Type)),
            (v, x) => v.Call("Equal", v.Call("Sub", x[0], x[0]), v.K(0)),
            typeof(double).GetMethod("IsFinite", [D])!, typeof(float).GetMethod("IsFinite", [F])!);

        // d[x Phi(x)] = Phi(x) + x phi(x), Phi(x) = erfc(-x/sqrt 2)/2
        Gelu = FloatFn("Gelu", (c, t) => t[0]! * (0.5 * Ap1(Erfc, -c.X[0] * InvSqrt2) + c.X[0] * (InvSqrt2Pi * R.Exp(-0.5 * (c.X[0] * c.X[0])))));
        // x s(2z), z = k (x + a x^3): d = s + x 2 s (1 - s) k (1 + 3 a x^2)
        GeluTanh = FloatFn("GeluTanh", ScalarMath.GeluTanh, ScalarMath.GeluTanh, (c, t) =>
        {
            var x = c.X[0];
            var s = R.Sigmoid(2 * ScalarMath.GeluTanhScale * (x + ScalarMath.GeluTanhCubic * (x * x * x)));
            return t[0]! * (s + x * (2 * ScalarMath.GeluTanhScale) * (s * (1 - s)) * (1 + 3 * ScalarMath.GeluTanhCubic * (x * x)));
        }, SM1("GeluTanh", D), SM1("GeluTanh", F), Np_("Gelu", T, typeof(bool)));
        Silu = FloatFn("Silu", (c, t) => { var s = R.Sigmoid(c.X[0]); return t[0]! * (s * (1 + c.X[0] * (1 - s))); });
        LogSigmoid = FloatFn("LogSigmoid", (c, t) => t[0]! * R.Sigmoid(-c.X[0]));
        // leaky_relu(x, s) = x >= 0 ? x : s x (jax.nn: the slope at 0 is 1); differentiable in s too (PReLU)
        LeakyRelu = Binary("LeakyRelu", Np_("LeakyRelu", T, T),
            (x, t) => Expression.Condition(Expression.GreaterThanOrEqual(x[0], Primitive.Conv(Expression.Constant(0.0), t)), x[0], Expression.Multiply(x[1], x[0])),
            (v, x) => v.Call("Where", v.Call("GreaterEqual", x[0], v.K(0)), x[0], v.Call("Mul", x[1], x[0])),
            (c, t) =>
            {
                var pos = Ap2(GreaterEqual, c.X[0], c.X[0].Const(0));
                return Sum2(t[0] is { } tx ? c.BroadcastToAns(R.Where(pos, tx, c.X[1] * tx)) : null,
                    t[1] is { } ts ? c.BroadcastToAns(R.Where(pos, c.X[0].Const(0), c.X[0] * ts)) : null);
            }, dbl: SM2("LeakyRelu", D), flt: SM2("LeakyRelu", F));
        // elu(x, a) = x > 0 ? x : a expm1(x); for x <= 0 the derivative a e^x is ans + a (no overflow where x > 0)
        Elu = Binary("Elu", Np_("Elu", T, T), Calls(SM2("Elu", D), SM2("Elu", F)), LanesOf(SM2("Elu", D), SM2("Elu", F)),
            (c, t) =>
            {
                var pos = R.Greater(c.X[0], c.X[0].Const(0));
                return Sum2(t[0] is { } tx ? c.BroadcastToAns(R.Where(pos, tx, tx * (c.Ans! + c.X[1]))) : null,
                    t[1] is { } ta ? c.BroadcastToAns(R.Where(pos, c.X[0].Const(0), ta * Ap1(Expm1, Ap2(Minimum, c.X[0], c.X[0].Const(0))))) : null);
            }, dbl: SM2("Elu", D), flt: SM2("Elu", F));
        foreach (var p in new[] { LeakyRelu, Elu })
        {
            p.Accepts = DTypeSets.All;
            p.Gives = DTypeSets.FloatResult;
        }

        // Np.Gelu(x, approximate) is read as GeluTanh with its flag, then rewritten: the tanh form when the flag is true, the
        // exact form when false; a GeluTanh node holds no flag and is written back as Np.Gelu(x, approximate: true)
        GeluTanh.Rewrite = (b, a, prm) => prm.Count == 0 ? null : prm.Get<bool>(0) ? b.Apply(GeluTanh, a) : b.Apply(Gelu, a);
        GeluTanh.EmitRule = (a, k, _, _) => k[0] == Kind.Tensor
            ? Expression.Call(GeluTanh.TensorMethod!, Primitive.Conv(a[0], T), Expression.Constant(true))
            : Expression.Call(k[0] == Kind.Float ? GeluTanh.FloatMethod! : GeluTanh.DoubleMethod!, a[0]);
        GeluTanh.FormatRule = (a, k, _) => k[0] == Kind.Tensor ? $"Np.Gelu({a[0]}, approximate: true)" : $"ScalarMath.GeluTanh({a[0]})";
    }
}
