## Writes the frames of many camera sensors (one per agent) into one uint8 tensor, agent after
## agent, each frame H×W×C channel-last: the tensor is a batch of shape (N, H, W, C).
class_name CameraBatch
extends RefCounted

var _buffer := PackedByteArray()


## Captures every sensor in [param sensors] ([CameraSensor2D] or [CameraSensor3D]) and writes
## the batch into [param tensor] starting at byte [param offset]. False (with an error) if a
## sensor has no frame or the batch does not fit.
func write_frames(sensors: Array, tensor: cPersistentUintTensor, offset: int = 0) -> bool:
	if tensor == null:
		push_error("CameraBatch.write_frames: tensor is null")
		return false
	if tensor.has_method("write_at"):  # each frame straight into its slice: no batch buffer
		var at := offset
		for sensor in sensors:
			if not sensor.write_into(tensor, at):
				return false
			at += sensor.get_size()
		return true
	_buffer.resize(0)
	for sensor in sensors:
		var frame: PackedByteArray = sensor.capture()
		if frame.is_empty():
			return false  # the sensor said why
		_buffer.append_array(frame)
	if offset == 0 and _buffer.size() == tensor.size():
		return tensor.write(_buffer)
	return CameraFrame.write_into(_buffer, tensor, offset, "CameraBatch")
