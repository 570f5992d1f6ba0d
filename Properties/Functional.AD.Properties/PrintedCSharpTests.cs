using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using Xunit.Abstractions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// <c>Ad.Show</c> prints C# that compiles: each printed program is compiled with Roslyn (with only the <c>using</c>
/// lines it prints), loaded, run, and its results compared with the library's own compiled expression on the same
/// arguments. Covered: every spec of the table and its transforms (the projected function, <c>Grad</c>, <c>Jvp</c>,
/// <c>Vjp</c>, forward over reverse), conditionals, loops and custom rules among them, in the general form
/// (<c>Ad.Show(f)</c>) and the specialised one (<c>Ad.Show(f, args)</c>).
/// </summary>
public sealed class PrintedCSharpTests(ITestOutputHelper output)
{
    /// <summary>The XOR net's parameters (a pytree), as in Examples/Xor.</summary>
    public sealed record XorParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    static readonly Expression<Func<Tensor, Tensor>> Sigmoid = x => 1.0 / (1 + Exp(-x));
    static readonly Expression<Func<XorParams, Tensor, Tensor>> Net = (p, x) => Sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
    static readonly Expression<Func<XorParams, Tensor, Tensor, Tensor>> Loss =
        (p, x, y) => Let(Net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

    /// <summary>A printed program, the arguments to run it on, and what the library computes there.</summary>
    sealed record Case(string Name, string Text, object?[] Args, object Expected, double Tolerance);

    // ------------------------------------------------------------------ compiling printed programs

    static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToHashSet();
        paths.Add(typeof(Tensor).Assembly.Location);
        paths.Add(typeof(PrintedCSharpTests).Assembly.Location);
        return paths.Where(File.Exists).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    /// <summary>
    /// Compiles every case's text as the body of its own class (its <c>using</c> lines lifted to the top of the file,
    /// where a pasted program would put them), in one compilation, and returns each case's method <c>F</c>.
    /// </summary>
    static MethodInfo[] CompileAll(IReadOnlyList<Case> cases)
    {
        var usings = new SortedSet<string>(StringComparer.Ordinal);
        var classes = new StringBuilder();
        for (int k = 0; k < cases.Count; k++)
        {
            var lines = cases[k].Text.ReplaceLineEndings("\n").Split('\n');
            foreach (var u in lines.Where(l => l.StartsWith("using ", StringComparison.Ordinal))) usings.Add(u);
            classes.Append("public static class Printed").Append(k).AppendLine(" {");
            foreach (var l in lines.Where(l => !l.StartsWith("using ", StringComparison.Ordinal))) classes.AppendLine(l);
            classes.AppendLine("}");
        }
        var source = string.Join("\n", usings) + "\n" + classes;
        var compilation = CSharpCompilation.Create("Printed" + Guid.NewGuid().ToString("N"),
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))], References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Disable));
        using var ms = new MemoryStream();
        var emitted = compilation.Emit(ms);
        if (!emitted.Success)
        {
            var errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10).Select(d =>
            {
                int line = d.Location.GetLineSpan().StartLinePosition.Line;
                var srcLines = source.Split('\n');
                int start = Array.FindLastIndex(srcLines, Math.Min(line, srcLines.Length - 1), l => l.StartsWith("public static class Printed", StringComparison.Ordinal));
                var which = start >= 0 ? srcLines[start] : "?";
                return $"{d}\n  in {which}: {cases[int.Parse(which.Split(' ')[3].Replace("Printed", ""))].Name}\n  line: {srcLines[Math.Min(line, srcLines.Length - 1)]}";
            });
            Assert.Fail("printed C# does not compile:\n" + string.Join("\n", errors));
        }
        var asm = Assembly.Load(ms.ToArray());
        return Enumerable.Range(0, cases.Count)
            .Select(k => asm.GetType("Printed" + k)!.GetMethod("F", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!)
            .ToArray();
    }

    /// <summary>The numbers of a result: its tensors and C# scalars in order (tuples and records walked through).</summary>
    static List<Tensor> Leaves(object? v)
    {
        var acc = new List<Tensor>();
        void Walk(object? x)
        {
            switch (x)
            {
                case Tensor t: acc.Add(t); break;
                case double d: acc.Add(Tensor.Scalar(d, DType.Float64)); break;
                case float f: acc.Add(Tensor.Scalar(f, DType.Float32)); break;
                case ITuple tuple: for (int i = 0; i < tuple.Length; i++) Walk(tuple[i]); break;
                case null: throw new InvalidOperationException("a null result");
                default: acc.AddRange((IEnumerable<Tensor>)typeof(Tree).GetMethod(nameof(Tree.Leaves))!.MakeGenericMethod(x.GetType()).Invoke(null, [x])!); break;
            }
        }
        Walk(v);
        return acc;
    }

    /// <summary>Compiles every case, runs it, and compares with the expected result; returns how many ran.</summary>
    int RunAll(IReadOnlyList<Case> cases)
    {
        var methods = CompileAll(cases);
        var failures = new List<string>();
        for (int k = 0; k < cases.Count; k++)
        {
            var c = cases[k];
            object? got;
            try { got = methods[k].Invoke(null, c.Args); }
            catch (TargetInvocationException e) { failures.Add($"{c.Name}: the printed program threw {e.InnerException}\n{c.Text}"); continue; }
            var (g, w) = (Leaves(got), Leaves(c.Expected));
            if (g.Count != w.Count) { failures.Add($"{c.Name}: {g.Count} results, expected {w.Count}\n{c.Text}"); continue; }
            for (int i = 0; i < g.Count; i++)
                if (!g[i].Shape.SequenceEqual(w[i].Shape) || g[i].DType != w[i].DType || !g[i].AllClose(w[i], c.Tolerance, c.Tolerance))
                    failures.Add($"{c.Name}: result {i} is {g[i]}, the library computes {w[i]}\n{c.Text}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
        return cases.Count;
    }

    /// <summary>The general and the specialised printing of <paramref name="f"/> at <paramref name="args"/>, expected to
    /// compute what <c>f.Compile()</c> computes (to the last bit in the general form, which runs the same eager methods).</summary>
    static IEnumerable<Case> BothForms(string name, LambdaExpression f, object?[] args, DType dtype)
    {
        var expected = f.Compile().DynamicInvoke(args)!;
        double tol = dtype == DType.Float64 ? 1e-10 : 1e-4;
        yield return new Case(name, Ad.Show(f), args, expected, 1e-12);
        yield return new Case(name + " (specialised)", Ad.Show(f, args), args, expected, tol);
    }

    // ------------------------------------------------------------------ tests

    [Fact]
    public void The_printed_gradient_of_the_xor_loss_compiles_and_computes_the_gradient()
    {
        var p = Tree.Normal(PrngKey.Create(3), new XorParams(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));
        var x = new Tensor(new float[] { 0, 1 });
        var y = Tensor.Scalar(1, DType.Float32);
        var grad = Ad.Grad(Loss);
        var general = Ad.Show(grad);
        var specialised = Ad.Show(grad, p, x, y);
        output.WriteLine(general);
        output.WriteLine(specialised);
        RunAll([.. BothForms("Grad(xor loss)", grad, [p, x, y], DType.Float32),
                .. BothForms("Grad(xor loss), weak y", grad, [p, x, new Tensor(0.0)], DType.Float32),
                .. BothForms("xor loss", Loss, [p, x, y], DType.Float32)]);

        // the specialised form folds what is a no-op for these shapes: no shape computations, no SumTo to the same shape
        static int Statements(string s) => s.Split('\n').Count(l => l.TrimStart().StartsWith("var ", StringComparison.Ordinal));
        output.WriteLine($"statements: general {Statements(general)}, specialised {Statements(specialised)}");
        Assert.DoesNotContain("AvalOf", specialised);
        Assert.DoesNotContain("SumTo", specialised);
        Assert.DoesNotContain("GradSeed", specialised);
        Assert.Contains("Lax.SumTo", general);
        Assert.True(Statements(specialised) * 2 < Statements(general), $"{Statements(specialised)} statements specialised, {Statements(general)} in general");
        // the header a pasted program needs, and the pytree type by its C# name
        Assert.StartsWith("using System;", general);
        Assert.Contains("using static Functional.AD.Properties.PrintedCSharpTests;", general);
        Assert.Contains("static XorParams F(XorParams p, Tensor x, Tensor y)", general);
        Assert.Contains("return new XorParams(", general);
    }

    [Fact]
    public void Every_spec_and_its_transforms_print_as_compiling_csharp_that_computes_the_same_numbers()
    {
        var cases = new List<Case>();
        var notCompiling = new List<string>();
        foreach (var spec in Specs.All)
        {
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            {
                var check = new SpecCheck(spec);
                var args = spec.Inputs(dtype).Sample(8, 1)[0];
                var xs = check.PackArgs(args);
                var w = check.Evaluate(args) * 0 + 0.75;
                var forms = new List<(string, LambdaExpression, object?[])>
                {
                    ("f", check.Projected, [xs, w]),
                    ("Grad", check.Gradient, [xs, w]),
                    ("Vjp", check.VjpExpression, [xs, check.Evaluate(args) * 0 + 0.5]),
                };
                if (!spec.ReverseOnly)
                {
                    forms.Add(("Jvp", check.JvpExpression, [xs, check.PackArgs(args.Select(a => a * 0 + 0.25).ToArray())]));
                    if (spec.SecondOrder)
                        forms.Add(("Jvp(Grad)", check.HvpExpression, [xs, w, check.PackArgs(args.Select(a => a * 0 + 0.25).ToArray()), w * 0]));
                }
                foreach (var (what, f, a) in forms)
                {
                    var name = $"{what} of {spec.Name} ({dtype})";
                    var text = Ad.Show(f);
                    if (text.StartsWith("// does not compile", StringComparison.Ordinal))
                    {
                        notCompiling.Add($"{name}: {text.Split('\n')[0]}");
                        continue;
                    }
                    cases.AddRange(BothForms(name, f, a, dtype));
                }
            }
        }
        int ran = RunAll(cases);
        output.WriteLine($"{ran} printed programs compiled and matched; {notCompiling.Count} say they do not compile:");
        foreach (var n in notCompiling.Distinct()) output.WriteLine("  " + n);
        // every spec prints as compilable C#: loops as Lax.Scan/Lax.While over lambdas, Vmap's moves as Lax calls
        Assert.True(notCompiling.Count == 0, "not compilable:\n" + string.Join("\n", notCompiling));
        Assert.True(ran > 500, $"only {ran} programs ran");
    }

    [Fact]
    public void Conditionals_loops_and_custom_rules_print_as_their_public_spellings()
    {
        Expression<Func<Tensor, double, Tensor>> cond = (x, c) => c > 0 ? Sin(x) * x : Cos(x);
        Expression<Func<Tensor, Tensor>> fold = x => Fold(3, x, (double i, Tensor c) => Sin(c) * x + i);
        Expression<Func<Tensor, Tensor>> scan = x => Let(Scan(x, Sum(x, 0, false) * 0.5, (Tensor c, Tensor r) => Tuple(Sin(c) * r + 0.5 * c, c * r)),
            s => s.Item1 * 2 + Sum(s.Item2, 0, false));
        Expression<Func<Tensor, Tensor>> loop = x => While(c => Max(Abs(c), null, false) < 10, c => c * 2 + 0.5, x);
        Expression<Func<double, double>> scalarLoop = x => Np.While(c => c < 10, c => c * 2 + 0.5, x);
        var softplus = Ad.CustomJvp<Tensor, Tensor>(x => Log(1 + Exp(x)), (x, dx) => dx * Np.Sigmoid(x));
        Expression<Func<Tensor, Tensor>> custom = x => softplus.Invoke(x) * x;
        var x3 = new Tensor(new[] { 0.3, -1.2, 2.0 });
        Expression<Func<Tensor, double, Tensor>> condSum = (x, c) => Sum(cond.Invoke(x, c), null, false);
        var shown = new[] { Ad.Show(cond), Ad.Show(fold), Ad.Show(scan), Ad.Show(loop), Ad.Show(custom), Ad.Show(Ad.Grad(condSum)) };
        foreach (var s in shown) output.WriteLine(s);
        Assert.Contains("if (", shown[0]);
        // the loops are Lax.Scan and Lax.While calls over typed lambdas, their results read by index
        foreach (var s in shown) Assert.DoesNotContain("does not compile", s);
        Assert.Contains("Lax.Scan([", shown[1]);
        Assert.Contains("length: 3", shown[1]);
        Assert.Contains("Lax.Scan([", shown[2]);
        Assert.Contains("Lax.While([", shown[3]);
        Assert.Contains("custom derivative rule", shown[4]);
        RunAll([.. BothForms("fold", fold, [x3], DType.Float64), .. BothForms("scan", scan, [x3], DType.Float64),
                .. BothForms("while", loop, [x3], DType.Float64), .. BothForms("scalar while", scalarLoop, [0.7], DType.Float64),
                .. BothForms("cond", cond, [x3, 1.0], DType.Float64), .. BothForms("cond, else", cond, [x3, -1.0], DType.Float64),
                .. BothForms("Grad(cond)", Ad.Grad(condSum), [x3, -1.0], DType.Float64), .. BothForms("Grad(cond), then", Ad.Grad(condSum), [x3, 1.0], DType.Float64),
                .. BothForms("custom", custom, [x3], DType.Float64),
                .. BothForms("Grad(Sum(custom))", Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(custom.Invoke(x), null, false))), [x3], DType.Float64)]);
    }

    [Fact]
    public void Second_derivatives_print_as_compiling_csharp()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Sin(x) * x + Exp(x * 0.5) * x * x, null, false);
        Expression<Func<double, double>> g = x => Math.Sin(x) * x * Math.Exp(x);
        var x3 = new Tensor(new[] { 0.3, -1.2, 2.0 });
        var v3 = new Tensor(new[] { 1.0, 0.5, -2.0 });
        RunAll([.. BothForms("Hvp", Ad.Hvp(f), [x3, v3], DType.Float64),
                .. BothForms("Grad(Grad(double))", Ad.Grad(Ad.Grad(g)), [0.7], DType.Float64),
                .. BothForms("Grad(Grad(Grad(double)))", Ad.Grad(Ad.Grad(Ad.Grad(g))), [0.7], DType.Float64),
                .. BothForms("Jvp(Grad)", Ad.Jvp(Ad.Grad(f)), [x3, v3], DType.Float64),
                .. BothForms("Grad(Sum(Grad))", Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(Ad.Grad(f).Invoke(x) * v3, null, false))), [x3], DType.Float64)]);

        // the Hessian is a Vmap over a basis: in the general form its batched nodes print as Lax.Batched calls, in the
        // specialised one they are rewritten into ordinary primitives for the known shapes
        var hessian = Ad.Hessian(f);
        Assert.Contains("Lax.Batched(1, ", Ad.Show(hessian));
        RunAll([.. BothForms("Hessian", hessian, [x3], DType.Float64)]);
    }

    [Fact]
    public void Captured_tensors_print_as_literals_with_every_digit()
    {
        var w = new Tensor(new[,] { { 0.1, 1.0 / 3 }, { -2.5e-7, Math.PI } });
        var b = new Tensor(new float[] { 0.1f, 1f / 3 });
        Expression<Func<Tensor, Tensor>> f = x => Dot(w, x) + b * x;
        var text = Ad.Show(f);
        output.WriteLine(text);
        Assert.Contains("new Tensor(new double[] {", text);
        Assert.Contains("new Tensor(new float[] {", text);
        RunAll([.. BothForms("captured", f, [new Tensor(new[] { 0.7, -0.4 })], DType.Float64),
                .. BothForms("Grad(captured)", Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(f.Invoke(x), null, false))), [new Tensor(new[] { 0.7, -0.4 })], DType.Float64)]);
    }

    [Fact]
    public void A_captured_tensor_of_one_repeated_value_prints_as_Np_Full()
    {
        var c = Full([40, 3], 1.0 / 3, DType.Float64);
        var h = Full([3], -0.015625, DType.Float32);
        Expression<Func<Tensor, Tensor>> f = x => Sum(c * x, 0, false) + h;
        var text = Ad.Show(f);
        output.WriteLine(text);
        Assert.Contains("Np.Full(new int[] { 40, 3 }, 0.3333333333333333, DType.Float64)", text);
        Assert.Contains("Np.Full(new int[] { 3 }, -0.015625, DType.Float32)", text);
        Assert.DoesNotContain("new Tensor(new double[]", text);
        var x = Rng.Normal(PrngKey.Create(5), [40, 3], DType.Float64);
        RunAll([.. BothForms("repeated constants", f, [x], DType.Float64)]);
    }

    [Fact]
    public void A_program_with_a_node_that_has_no_public_spelling_says_so_in_its_first_line()
    {
        // the forward-mode tangent of a reverse-only custom rule cannot run, so it has no public spelling: the printer
        // does not pretend (the node is made by hand: Ad.Jvp refuses such a rule before anything is printed)
        Expression<Func<Tensor, Tensor, Tensor>> rule = (x, ct) => ct * 0.5;
        var b = new Builder();
        var x = b.Input(Kind.Tensor, "x");
        var t = b.Apply(Prims.CustomVjpTangent, [x, x], new Params(rule, 1));
        var text = ProgramText.Print(b.Finish([t]), [("x", typeof(Tensor))], ["x"], TreeDef.Of(typeof(Tensor)), typeof(Tensor));
        Assert.StartsWith("// does not compile: ", text);
        Assert.Contains("no public C# spelling for", text.Split('\n')[0]);
        Assert.Contains("CustomVjpTangent", text.Split('\n')[0]);
    }

    // ------------------------------------------------------------------ loops and Vmap, through their derivatives

    /// <summary>A recurrent loss over a pytree carry <c>(h, s)</c>, as the loop tests write it.</summary>
    static readonly Expression<Func<Tensor, Tensor, Tensor>> ScanLoss = (w, xs) =>
        Let(Scan(xs, Tensor.Scalar(0.1, DType.Float64) * w, (Tensor h, Tensor x) => Tuple(Tanh(w * h + x), Sin(h) * x)),
            s => Sum(s.Item1 * s.Item1, null, false) + Sum(s.Item2 * s.Item2 * 0.5, null, false));

    static readonly Expression<Func<Tensor, Tensor>> FoldLoss = x => Sum(Fold(3, x, (double i, Tensor c) => Sin(c) * x + i * 0.1) * x, null, false);
    static readonly Expression<Func<Tensor, Tensor>> WhileLoss = w =>
        Sum(Sin(While(c => Sum(c, null, false) < 50, c => c * (1 + w * w) + 0.5, w * 0 + 1)) * w, null, false);

    static LambdaExpression Grad1<T>(Expression<Func<T, Tensor>> f) => Ad.Grad(f);

    [Fact]
    public void Printed_derivatives_through_scan_fold_and_while_compile_and_compute_the_derivative()
    {
        var w = new Tensor(new[] { 0.4, -0.7, 1.1 });
        var xs = new Tensor(new[,] { { 0.3, -0.2, 0.5 }, { 1.0, 0.1, -0.4 }, { -0.6, 0.8, 0.2 }, { 0.05, -0.9, 0.7 } });
        var v = new Tensor(new[] { 1.0, -0.5, 0.25 });
        Expression<Func<Tensor, Tensor>> scanOfW = a => ScanLoss.Invoke(a, xs);
        // the same loss with a checkpointed Scan (reverse mode keeps one carry in 3 and re-runs the segments)
        Expression<Func<Tensor, Tensor>> checkpointed = a =>
            Let(Scan(xs, Tensor.Scalar(0.1, DType.Float64) * a, (Tensor h, Tensor x) => Tuple(Tanh(a * h + x), Sin(h) * x), -1, 3),
                s => Sum(s.Item1 * s.Item1, null, false) + Sum(s.Item2 * s.Item2 * 0.5, null, false));
        Expression<Func<Tensor, Tensor>> checkpointedWhile = a =>
            Sum(Sin(While(c => Sum(c, null, false) < 50, c => c * (1 + a * a) + 0.5, a * 0 + 1, 2)) * a, null, false);
        // a pytree carry: Fold over (c, acc), Scan over (h, total)
        Expression<Func<Tensor, Tensor>> pytreeFold = a =>
            Sum(Fold(4, ValueTuple.Create(a, a * 0), (double i, (Tensor, Tensor) c) => ValueTuple.Create(Sin(c.Item1) * a, c.Item2 + c.Item1 * i)).Item2, null, false);
        Expression<Func<Tensor, Tensor>> pytreeScan = a =>
            Sum(Scan(xs, ValueTuple.Create(a, a * 0), (ValueTuple<Tensor, Tensor> s, Tensor x) =>
                Tuple(ValueTuple.Create(Tanh(s.Item1 * a + x), s.Item2 + s.Item1), Sum(s.Item1 * x, null, false))).Item1.Item2, null, false);
        Expression<Func<double, double>> scalarFold = a => Np.Fold(4, a, (double i, double c) => c * c * 0.3 + Math.Sin(a * c) + i * 0.01);
        Expression<Func<double, double>> sqrt = a => Np.While((double y) => Math.Abs(y * y - a) > 1e-12 * a, (double y) => 0.5 * (y + a / y), a);

        var grads = new (string Name, LambdaExpression F, object?[] Args)[]
        {
            ("Grad(Scan)", Ad.Grad(scanOfW), [w]),
            ("Jvp(Scan)", Ad.Jvp(scanOfW), [w, v]),
            ("Vjp(Scan)", Ad.Vjp(scanOfW), [w, Tensor.Scalar(0.5, DType.Float64)]),
            ("Grad(Scan), both arguments", Ad.Grad(ScanLoss), [w, xs]),
            ("Hvp(Scan)", Ad.Hvp(scanOfW), [w, v]),
            ("Hessian(Scan)", Ad.Hessian(scanOfW), [w]),
            ("Grad(Fold)", Ad.Grad(FoldLoss), [w]),
            ("Jvp(Fold)", Ad.Jvp(FoldLoss), [w, v]),
            ("Hessian(Fold)", Ad.Hessian(FoldLoss), [w]),
            ("Grad(While)", Ad.Grad(WhileLoss), [w * 0.1]),
            ("Jvp(While)", Ad.Jvp(WhileLoss), [w * 0.1, v]),
            ("Hessian(While)", Ad.Hessian(WhileLoss), [w * 0.1]),
            ("Grad(checkpointed Scan)", Ad.Grad(checkpointed), [w]),
            ("Hessian(checkpointed Scan)", Ad.Hessian(checkpointed), [w]),
            ("Grad(checkpointed While)", Ad.Grad(checkpointedWhile), [w * 0.1]),
            ("Grad(Fold over a pytree carry)", Ad.Grad(pytreeFold), [w]),
            ("Grad(Scan over a pytree carry)", Ad.Grad(pytreeScan), [w]),
            ("Grad(Grad(scalar Fold))", Ad.Grad(Ad.Grad(scalarFold)), [0.3]),
            ("Grad(scalar While)", Ad.Grad(sqrt), [2.0]),
            ("Grad(Grad(scalar While))", Ad.Grad(Ad.Grad(sqrt)), [2.0]),
        };
        var cases = new List<Case>();
        foreach (var (name, f, args) in grads)
        {
            var text = Ad.Show(f);
            Assert.False(text.StartsWith("// does not compile", StringComparison.Ordinal), $"{name}: {text.Split('\n')[0]}");
            Assert.Contains(name.Contains("While") && !name.Contains("checkpointed") ? "Lax.While([" : "Lax.Scan([", text);
            // reverse mode: the primal loop saves its residuals and the transposed linear loop runs backwards
            // (a derivative of a scalar function of a scalar is forward mode)
            if ((name.StartsWith("Grad(", StringComparison.Ordinal) || name.StartsWith("Vjp(", StringComparison.Ordinal) || name.StartsWith("Hessian(", StringComparison.Ordinal)) && !name.Contains("scalar"))
                Assert.True(text.Contains("reverse: true"), $"{name}: no reversed loop in\n{text}");
            Assert.DoesNotContain("Rt.", text);
            Assert.DoesNotContain("Shape.", text);
            cases.AddRange(BothForms(name, f, args, DType.Float64));
        }
        output.WriteLine(Ad.Show(Ad.Grad(scanOfW)));
        output.WriteLine(Ad.Show(Ad.Grad(scanOfW), w));
        output.WriteLine(Ad.Show(Ad.Grad(WhileLoss)));
        Assert.Equal(grads.Length * 2, RunAll(cases));

        // the printed gradient agrees with central differences in float64 too (not only with the library's own result)
        var printed = CompileAll([cases.Single(c => c.Name == "Grad(Scan)")])[0];
        var g = (Tensor)printed.Invoke(null, [w])!;
        var loss = scanOfW.Compile();
        for (int i = 0; i < 3; i++)
        {
            var e = Np.OneHot(i, 3, DType.Float64) * 1e-6;
            double fd = ((double)loss(w + e) - (double)loss(w - e)) / 2e-6;
            Assert.True(Math.Abs(fd - g.ToDoubleArray()[i]) < 1e-6 * (1 + Math.Abs(fd)), $"d/dw[{i}]: printed {g.ToDoubleArray()[i]}, finite differences {fd}");
        }
    }

    [Fact]
    public void Printed_vmapped_functions_compile_and_compute_the_batched_result()
    {
        var xs = new Tensor(new[,] { { 0.3, -0.2, 0.5 }, { 1.0, 0.1, -0.4 }, { -0.6, 0.8, 0.2 }, { 0.05, -0.9, 0.7 } });
        var m = new Tensor(new[,] { { 0.5, -1.0, 0.25 }, { 2.0, 0.3, -0.7 } });
        Expression<Func<Tensor, Tensor>> f = x => Sum(Tanh(Dot(m, x)) * Sum(Sin(x), null, false), null, false) + Max(x, null, false);
        Expression<Func<Tensor, Tensor, Tensor>> two = (x, y) => Dot(x, y) * Exp(x);
        Expression<Func<Tensor, Tensor>> scan = x => Scan(x, Sum(x, null, false), (Tensor c, Tensor r) => Tuple(Sin(c) + r, c * r)).Item2;
        var vf = Ad.Vmap(f, [0]);
        var cases = new (string Name, LambdaExpression F, object?[] Args)[]
        {
            ("Vmap(f)", vf, [xs]),
            ("Vmap(f), out axis 0, mapped axis 1", Ad.Vmap(f, [1]), [Np.Transpose(xs)]),
            ("Vmap(two), one argument unbatched", Ad.Vmap(two, [0, null]), [xs, new Tensor(new[] { 0.3, -0.2, 0.5 })]),
            ("Vmap(Grad(f))", Ad.Vmap(Ad.Grad(f), [0]), [xs]),
            ("Grad(Sum(Vmap(f)))", Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(vf.Invoke(x), null, false))), [xs]),
            ("Vmap(Scan)", Ad.Vmap(scan, [1], [1]), [xs]),
        };
        var all = new List<Case>();
        foreach (var (name, fn, args) in cases)
        {
            var text = Ad.Show(fn);
            Assert.False(text.StartsWith("// does not compile", StringComparison.Ordinal), $"{name}: {text.Split('\n')[0]}");
            Assert.Contains("Lax.Batched(", text);
            Assert.Contains("Lax.BatchSize(", text);
            all.AddRange(BothForms(name, fn, args, DType.Float64));
        }
        output.WriteLine(Ad.Show(vf));
        Assert.Equal(cases.Length * 2, RunAll(all));
    }
}
