## A known picture for 2D camera tests: at [param origin], a [param w]×[param h] area split
## into four quadrants of the given colours (top-left, top-right, bottom-left, bottom-right).
## Quadrant edges are at w / 2 and h / 2 rounded down, as the Python side expects.
extends RefCounted


static func build(parent: Node, origin: Vector2, w: int, h: int, colors: Array) -> void:
	var hw := w / 2
	var hh := h / 2
	var rects := [Rect2(0, 0, hw, hh), Rect2(hw, 0, w - hw, hh), Rect2(0, hh, hw, h - hh), Rect2(hw, hh, w - hw, h - hh)]
	for q in 4:
		var rect := ColorRect.new()
		rect.position = origin + rects[q].position
		rect.size = rects[q].size
		var c: Array = colors[q]
		rect.color = Color8(c[0], c[1], c[2])
		parent.add_child(rect)


## A CameraSensor2D looking exactly at the area.
static func camera(origin: Vector2, w: int, h: int, gray: bool) -> CameraSensor2D:
	var cam := CameraSensor2D.new()
	cam.width = w
	cam.height = h
	cam.color_format = CameraFrame.ColorFormat.GRAY if gray else CameraFrame.ColorFormat.RGB
	cam.position = origin + Vector2(w / 2.0, h / 2.0)
	return cam
