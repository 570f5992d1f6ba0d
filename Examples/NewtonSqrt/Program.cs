// Newton's square-root iteration written with Np.While, differentiated through the loop.
// Run: dotnet run --project Examples/NewtonSqrt -c Release
// y <- (y + a / y) / 2 until |y^2 - a| <= 1e-12 a. The loop runs a data-dependent number of trips; reverse mode
// records every trip (no iteration cap) and the derivative through the loop is checked against 1 / (2 sqrt a).
// Recursion is written the same way: a recursive definition becomes a loop combinator (Np.While, Np.Fold, Np.Scan).
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

Expression<Func<double, double>> sqrt = a => While((double y) => Math.Abs(y * y - a) > 1e-12 * a, (double y) => 0.5 * (y + a / y), a);
var value = Ad.Jit(sqrt);
var derivative = Ad.Jit(sqrt.Grad());
Console.WriteLine("Ad.Show(sqrt.Grad()):");
Console.WriteLine(Ad.Show(sqrt.Grad()));

bool ok = true;
Console.WriteLine("        a |        sqrt(a) by Newton |       d/da through the loop |  1/(2 sqrt a)   | rel. error");
foreach (var a in new[] { 1e-4, 0.25, 2.0, 10.0, 12345.0, 1e8 })
{
    double y = value(a), d = derivative(a), exact = 1 / (2 * Math.Sqrt(a));
    double err = Math.Abs(d - exact) / exact;
    ok &= Math.Abs(y - Math.Sqrt(a)) <= 1e-12 * Math.Sqrt(a) && err < 1e-9;
    Console.WriteLine($" {a,8:G4} | {y,24:R} | {d,27:R} | {exact,15:G10} | {err:E1}");
}

// the same on a tensor: elementwise roots, the loop going on while any element is off; the gradient of their sum
Expression<Func<Tensor, Tensor>> roots = a => While(y => Max(Abs(y * y - a) - 1e-12 * a, null, false) > 0, y => 0.5 * (y + a / y), a);
Expression<Func<Tensor, Tensor>> total = a => Sum(roots.Invoke(a));
var xs = Tensor.FromArray(new[] { 0.5, 3.0, 81.0 }, DType.Float64);
var g = Ad.Jit(total.Grad())(xs).ToDoubleArray();
Console.WriteLine($"d/da sum(sqrt(a)) at [0.5, 3, 81]: [{string.Join(", ", g.Select(v => v.ToString("G12")))}]");
ok &= g.Zip(xs.ToDoubleArray()).All(p => Math.Abs(p.First - 1 / (2 * Math.Sqrt(p.Second))) < 1e-9);

Console.WriteLine(ok ? "The derivative through the While loop matches 1/(2 sqrt a)." : "Mismatch.");
return ok ? 0 : 1;
