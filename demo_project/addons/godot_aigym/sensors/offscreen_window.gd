## OffscreenWindow: the main window of an engine on the host's private X server, which nobody
## looks at (the host sets [code]AIGYM_OFFSCREEN=1[/code] in such engines' environment, unless
## LaunchOptions.env or the host's environment sets [code]AIGYM_OFFSCREEN=0[/code]: then the main
## window is drawn every frame, for a game reading [code]get_viewport().get_texture()[/code]).
##
## Its root viewport is not drawn: camera sensors render into SubViewports of their own (redrawn
## every frame either way), and drawing the root would cost a blit and a buffer swap per frame,
## which on Xvfb are round trips to the X server (GetGeometry, ShmPutImage + sync) before the
## frame ends; through a vector env of 2 engines x 16 cameras they cost ~13% of the images/s
## (docs/RENDERING.md). `render()` frames ask for one drawn frame ([method draw_next_frame]).
class_name OffscreenWindow
extends RefCounted

const VARIABLE := "AIGYM_OFFSCREEN"


## True in an engine started with [code]AIGYM_OFFSCREEN=1[/code].
static func is_offscreen() -> bool:
	return OS.get_environment(VARIABLE) == "1"


## Stops drawing the main window of an offscreen engine (nothing changes otherwise). Call it once
## the root window is in the tree (a node's _ready; not a SceneTree script's _initialize: the
## root entering the tree afterwards sets its update mode again).
static func stop_drawing(tree: SceneTree) -> void:
	if is_offscreen():
		RenderingServer.viewport_set_update_mode(tree.root.get_viewport_rid(), RenderingServer.VIEWPORT_UPDATE_DISABLED)


## The next frame draws the main window once (then it stops again), for a frame read back from it.
static func draw_next_frame(tree: SceneTree) -> void:
	if is_offscreen():
		RenderingServer.viewport_set_update_mode(tree.root.get_viewport_rid(), RenderingServer.VIEWPORT_UPDATE_ONCE)
