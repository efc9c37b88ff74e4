// The handwritten mark drawn with a finger or a mouse: the agreement's sign page (sign.js) and the accident
// finding's signing on the scene page (scene-sign.js). ``signed``: enough ink for a mark (a tap is not one);
// ``png()``: the mark as base64 PNG, as the server's mark check takes it.
export class Pad {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.ink = 0;  // length drawn, in canvas pixels: a tap is not a signature
    this.last = null;
    canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); this.last = this.point(e); e.preventDefault(); });
    canvas.addEventListener("pointermove", (e) => {
      if (!this.last) return;
      const p = this.point(e);
      const ctx = this.ctx;
      ctx.strokeStyle = "#14236b"; ctx.lineWidth = 4; ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(this.last.x, this.last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      this.ink += Math.hypot(p.x - this.last.x, p.y - this.last.y);
      this.last = p;
      e.preventDefault();
    });
    for (const name of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(name, () => { this.last = null; });
  }
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * this.canvas.width / r.width, y: (e.clientY - r.top) * this.canvas.height / r.height };
  }
  clear() { this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height); this.ink = 0; }
  get signed() { return this.ink > 80; }
  png() { return this.canvas.toDataURL("image/png").split(",", 2)[1]; }
}
