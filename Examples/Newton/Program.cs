// Newton's method on the Rosenbrock function with Ad.Hessian and Ad.Grad, beside plain gradient descent.
// Run: dotnet run --project Examples/Newton -c Release
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

// f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1), in a long curved valley.
Expression<Func<Tensor, Tensor>> rosenbrock = v => Let(Take(v, new Tensor(new[] { 0.0 }), 0), x =>
    Let(Take(v, new Tensor(new[] { 1.0 }), 0), y => Sum((1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x), null, false)));

var grad = Ad.Jit(rosenbrock.Grad());          // Tensor[2] -> Tensor[2]
var hessian = Ad.Jit(rosenbrock.Hessian());    // Tensor[2] -> Tensor[2, 2]
var f = rosenbrock.Compile();

// Newton: x <- x - H(x)^-1 g(x), solving the 2x2 system by hand.
var newton = new Tensor(new[] { -1.2, 1.0 });
var descent = newton;
const double lr = 1e-3;
Console.WriteLine(" step | Newton (x, y)                         f            | gradient descent (x, y), lr 1e-3      f");
int steps = 0;
bool converged = false;
for (int k = 0; k <= 12; k++)
{
    var n = newton.ToDoubleArray(); var d = descent.ToDoubleArray();
    Console.WriteLine($" {k,4} | ({n[0],16:F12}, {n[1],16:F12}) {(double)f(newton),10:E2} | ({d[0],9:F6}, {d[1],9:F6}) {(double)f(descent),10:E2}");
    if (Math.Abs(n[0] - 1) < 1e-10 && Math.Abs(n[1] - 1) < 1e-10) { converged = true; steps = k; break; }
    var g = grad(newton).ToDoubleArray();
    var h = hessian(newton).ToDoubleArray();
    double det = h[0] * h[3] - h[1] * h[2];
    var step = new[] { (h[3] * g[0] - h[1] * g[1]) / det, (-h[2] * g[0] + h[0] * g[1]) / det };
    newton = newton - new Tensor(step);
    // 100 steps of gradient descent per Newton step
    for (int i = 0; i < 100; i++) descent = descent - lr * grad(descent);
}
Console.WriteLine(converged
    ? $"Newton reached (1, 1) within 1e-10 in {steps} steps; gradient descent, after {steps * 100} steps, is at f = {(double)f(descent):E2}."
    : "Newton did not reach (1, 1) within 1e-10 in 12 steps.");
return converged ? 0 : 1;
